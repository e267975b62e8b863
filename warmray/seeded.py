"""The one source of seeded randomness: draws and orders that depend only on the run seed and keys.

Python's own hash() is salted per process, so a cryptographic hash of (seed, keys) keeps every draw
the same in every run and on every worker, whatever order rows arrive in.
"""

from __future__ import annotations

import hashlib
import random


def stable_key(seed: int, *keys: str) -> bytes:
    """A stable pseudo-random sort key for (seed, keys); sorting by it shuffles without a generator."""
    return hashlib.sha256("\0".join([str(seed), *keys]).encode()).digest()


def stable_rng(seed: int, *keys: str) -> random.Random:
    """A generator seeded by the run seed and keys (e.g. a purpose and an item id)."""
    return random.Random(int.from_bytes(stable_key(seed, *keys)[:8], "big"))
