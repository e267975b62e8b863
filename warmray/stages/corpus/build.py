"""The corpus as rows: records → clean → deduplicate → toxicity filter → categorize → sample → split.

Pure row logic with no files and no Ray, so every step is testable on hand-written records. Every
input record ends up either in `conversations` or in `rejects` with a reason (`not_sampled` for clean
rows the even sampling left out), so input rows = conversations + rejects.

The held-out prompts (`val_prompts`, see `warmray.stages.corpus.heldout`) are a view, not a third bucket:
they come from validation conversations and then from `not_sampled` conversations. A `not_sampled`
conversation whose first user turn became a held-out prompt stays a `not_sampled` reject, so the
accounting above is unchanged; it is never trained on, which is what makes its prompt held out.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from warmray.config import CorpusConfig
from warmray.schema import Conversation, Reject
from warmray.stages.corpus.categories import categorize
from warmray.stages.corpus.heldout import heldout_prompts
from warmray.stages.corpus.sampling import sample_evenly, validation_ids
from warmray.stages.corpus.sharegpt import Cleaned, clean_record, record_id
from warmray.stages.corpus.toxicity import ToxicityFilter, conversation_scores

log = logging.getLogger(__name__)

STAGE = "corpus"


@dataclass
class CorpusTables:
    """The corpus stage's output tables, as rows."""

    conversations: list[Conversation] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    val_prompts: list[dict[str, str]] = field(default_factory=list)
    input_rows: int = 0


def clean_all(records: Iterable[Any], max_turns: int) -> tuple[list[Cleaned], list[Reject], int]:
    """Clean every record and drop repeated ids (the first usable record with an id wins).

    Returns:
        The usable conversations, the rejects, and the number of records read.
    """
    kept: list[Cleaned] = []
    rejects: list[Reject] = []
    first_seen: dict[str, int] = {}
    n = 0
    for n, record in enumerate(records, start=1):
        index = n - 1
        result = clean_record(record, max_turns)
        if not isinstance(result, Cleaned):
            row_id = record_id(record) or f"record:{index}"
            rejects.append(Reject(STAGE, row_id, result.reason, f"record {index}: {result.detail}"))
        elif result.conversation_id in first_seen:
            detail = f"record {index}: same id as record {first_seen[result.conversation_id]}, kept"
            rejects.append(Reject(STAGE, result.conversation_id, "duplicate_id", detail))
        else:
            first_seen[result.conversation_id] = index
            kept.append(result)
    return kept, rejects, n


def drop_toxic(
    conversations: list[Cleaned], scorer: ToxicityFilter, threshold: float
) -> tuple[list[Cleaned], list[Reject]]:
    """Split conversations into those at or below the toxicity threshold and rejects above it."""
    scores = conversation_scores(scorer, [[t["content"] for t in c.turns] for c in conversations])
    kept, rejects = [], []
    for conversation, (score, turn) in zip(conversations, scores, strict=True):
        if score > threshold:
            detail = f"toxicity {score:.3f} > {threshold} (turn {turn})"
            rejects.append(Reject(STAGE, conversation.conversation_id, "toxic", detail))
        else:
            kept.append(conversation)
    return kept, rejects


def build_corpus(
    records: Iterable[Any], config: CorpusConfig, seed: int, scorer: ToxicityFilter, source: str = ""
) -> CorpusTables:
    """Run every corpus step over raw ShareGPT records."""
    cleaned, rejects, n_input = clean_all(records, config.max_turns)
    usable, toxic = drop_toxic(cleaned, scorer, config.toxicity.threshold)
    rejects += toxic
    categories = {c.conversation_id: categorize(c.turns) for c in usable}
    chosen, quotas, counts = sample_evenly(categories, config.n_conversations, seed)
    log.info("categories (rows available → sampled): %s", {c: f"{counts[c]}→{quotas[c]}" for c in counts})
    val_order = validation_ids(sorted(chosen), config.val_fraction, seed)
    val = set(val_order)
    tables = CorpusTables(rejects=rejects, input_rows=n_input)
    unsampled = []
    for c in usable:
        category = categories[c.conversation_id]
        if c.conversation_id not in chosen:
            detail = f"category {category}: {counts[category]} rows, quota {quotas[category]}"
            tables.rejects.append(Reject(STAGE, c.conversation_id, "not_sampled", detail))
            unsampled.append(c)
            continue
        split = "val" if c.conversation_id in val else "train"
        tables.conversations.append(Conversation(c.conversation_id, category, c.turns, split, source))
    tables.val_prompts = heldout_prompts(
        tables.conversations, val_order, unsampled, config.max_val_prompts, seed
    )
    origins = Counter(p["origin"] for p in tables.val_prompts)
    log.info("held-out prompts: %d (%s)", len(tables.val_prompts), dict(origins))
    log.info("rejects by reason: %s", dict(Counter(r.reason for r in tables.rejects).most_common()))
    return tables
