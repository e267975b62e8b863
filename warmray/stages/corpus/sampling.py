"""Even sampling across categories, and the train / validation split, both seeded and deterministic.

Both rank conversations by a hash of (seed, purpose, conversation id) instead of shuffling a list, so
the choice does not depend on the order records arrive in, and adding rows to the source never
reshuffles which of the old rows are chosen (a new row only enters where it outranks one).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence

from warmray.seeded import stable_key


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
        ids.sort(key=lambda i: stable_key(seed, "sample", i))
        chosen.update(ids[: quotas[category]])
    return chosen, quotas, counts


# ShareGPT V3 splits long chats into pieces with ids like `hRPPgZT_0`, `hRPPgZT_11`: a 7-character chat id
# and the index of the piece's first turn. Other ids (ours: `demo_001`) are chats of their own.
_PIECE = re.compile(r"^([A-Za-z0-9]{7})_\d+$")


def chat_root(conversation_id: str) -> str:
    """The chat a conversation belongs to: the ShareGPT chat id of a V3 piece, else the id itself."""
    piece = _PIECE.match(conversation_id)
    return piece.group(1) if piece else conversation_id


def validation_ids(conversation_ids: Sequence[str], val_fraction: float, seed: int) -> list[str]:
    """The ids held out for validation, in rank order: about round(n * val_fraction) of them.

    Whole chats are held out (all pieces of a split ShareGPT chat fall on the same side), so no
    validation prompt continues a conversation seen in training. At least one conversation is held out,
    and at least one kept for training, whenever there are two chats.
    """
    by_chat: dict[str, list[str]] = defaultdict(list)
    for cid in sorted(conversation_ids):
        by_chat[chat_root(cid)].append(cid)
    if len(by_chat) < 2:
        return []
    n_val = max(1, round(len(conversation_ids) * val_fraction))
    held: list[str] = []
    # keep one chat for training
    for root in sorted(by_chat, key=lambda r: stable_key(seed, "split", r))[:-1]:
        if len(held) >= n_val:
            break
        held += by_chat[root]
    return held
