"""Even sampling across categories, and the train / validation split, both seeded and deterministic.

Both rank conversations by a hash of (seed, purpose, conversation id) instead of shuffling a list, so
the choice does not depend on the order records arrive in, and adding rows to the source never
reshuffles which of the old rows are chosen (a new row only enters where it outranks one).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence


def rank_key(seed: int, purpose: str, conversation_id: str) -> bytes:
    """A stable pseudo-random sort key for one conversation."""
    return hashlib.sha256(f"{seed}\0{purpose}\0{conversation_id}".encode()).digest()


def even_quotas(counts: Mapping[str, int], n: int) -> dict[str, int]:
    """How many rows to take from each category: as equal as the counts allow, summing to min(n, total).

    Categories are served from the smallest up, each taking an equal share of what is left; a category
    with fewer rows than its share gives the rest to the larger ones (ties and the remainder of the
    division go to the larger categories).
    """
    remaining = min(n, sum(counts.values()))
    quotas = {}
    order = sorted(counts, key=lambda c: (counts[c], c))
    for i, category in enumerate(order):
        share = remaining // (len(order) - i)
        quotas[category] = min(counts[category], share)
        remaining -= quotas[category]
    return quotas


def sample_evenly(
    categories: Mapping[str, str], n: int, seed: int
) -> tuple[set[str], dict[str, int], dict[str, int]]:
    """Choose up to n conversation ids spread evenly over their categories.

    Args:
        categories: conversation id → category.
        n: how many to choose in all.
        seed: changes which rows are chosen within each category, never how many.

    Returns:
        The chosen ids, the quota of each category, and how many rows each category had.
    """
    by_category: dict[str, list[str]] = defaultdict(list)
    for conversation_id, category in categories.items():
        by_category[category].append(conversation_id)
    counts = {c: len(ids) for c, ids in by_category.items()}
    quotas = even_quotas(counts, n)
    chosen: set[str] = set()
    for category, ids in by_category.items():
        ids.sort(key=lambda i: rank_key(seed, "sample", i))
        chosen.update(ids[: quotas[category]])
    return chosen, quotas, counts


def validation_ids(conversation_ids: Sequence[str], val_fraction: float, seed: int) -> list[str]:
    """The ids held out for validation, in rank order: round(n * val_fraction) of them.

    At least one conversation is held out, and at least one kept for training, whenever there are two.
    """
    n = len(conversation_ids)
    n_val = min(n - 1, max(1, round(n * val_fraction))) if n >= 2 else 0
    ranked = sorted(conversation_ids, key=lambda i: rank_key(seed, "split", i))
    return ranked[:n_val]
