"""Even sampling across categories, and the spares that replace lost conversations, seeded and deterministic.

Both rank conversations by a hash of (seed, purpose, conversation id) instead of shuffling a list, so
the choice does not depend on the order records arrive in, and adding rows to the source never
reshuffles which of the old rows are chosen (a new row only enters where it outranks one).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping

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


def spare_ids(
    categories: Mapping[str, str],
    chosen: set[str],
    quotas: Mapping[str, int],
    excluded: set[str],
    seed: int,
) -> list[str]:
    """Conversations kept in reserve to replace sampled ones lost later (a rewrite that fails).

    Within each category the ids `sample_evenly` left out are taken in the rank order it used, so a spare
    is the next conversation in line for its category and a replacement keeps the sample even. `excluded`
    ids (those whose prompts became held-out prompts) are never spares, so a replacement can never train
    on a held-out prompt. At most as many spares as the category's quota are kept: more would only fill
    the table.

    Returns:
        The spare ids, category by category (sorted by name), best ranked first within each.
    """
    by_category: dict[str, list[str]] = defaultdict(list)
    for conversation_id, category in categories.items():
        if conversation_id not in chosen and conversation_id not in excluded:
            by_category[category].append(conversation_id)
    spares: list[str] = []
    for category in sorted(by_category):
        ids = sorted(by_category[category], key=lambda i: stable_key(seed, "sample", i))
        spares += ids[: quotas.get(category, 0)]
    return spares
