"""The corpus as rows: records → clean → deduplicate → toxicity filter → categorize → sample → hold out.

Pure row logic with no files and no Ray, so every step is testable on hand-written records. Every
input record ends up either in `conversations` or in `rejects` with a reason (`not_sampled` for clean
rows neither sampled nor kept as spares, `invalid_json` for a record the reader could not parse, with
its file and index), so input rows = conversations + rejects.

`conversations` holds the training sample (split "train", `n_conversations` spread evenly over the
categories) and, after it, the spares (split "spare", `warmray.stages.corpus.sampling.spare_ids`) in
each category's order of preference: the rewrite stage replaces a conversation whose rewrite failed
with the next spare of its category, so the trained set keeps its configured size. The held-out prompts
(`val_prompts`, see `warmray.stages.corpus.heldout`) come from the other filtered conversations, chosen
before the spares; such a conversation stays a `not_sampled` reject and is never trained on.
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
from warmray.stages.corpus.heldout import heldout_prompts, text_key
from warmray.stages.corpus.sampling import chat_root, sample_evenly, spare_ids
from warmray.stages.corpus.sharegpt import Cleaned, clean_record, record_id
from warmray.stages.corpus.sources import BadRecord
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
        if isinstance(record, BadRecord):  # not valid JSON: set aside, and reading went on after it
            rejects.append(Reject(STAGE, f"record:{index}", "invalid_json", record.detail()))
            continue
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
    tables = CorpusTables(rejects=rejects, input_rows=n_input)
    by_id = {c.conversation_id: c for c in usable}
    train = [_conversation(c, categories, "train", source) for c in usable if c.conversation_id in chosen]
    pool = [c for c in usable if c.conversation_id not in chosen]
    tables.val_prompts = heldout_prompts(train, pool, config.max_val_prompts, seed)
    spares = spare_ids(categories, chosen, quotas, _held_out(tables.val_prompts, pool), seed)
    tables.conversations = train + [_conversation(by_id[i], categories, "spare", source) for i in spares]
    _log_spares(spares, categories, quotas)
    reserved = set(spares)
    for c in pool:
        if c.conversation_id not in reserved:
            category = categories[c.conversation_id]
            detail = f"category {category}: {counts[category]} rows, quota {quotas[category]}"
            tables.rejects.append(Reject(STAGE, c.conversation_id, "not_sampled", detail))
    log.info("held-out prompts: %d", len(tables.val_prompts))
    if config.max_val_prompts and not tables.val_prompts:
        log.warning(
            "corpus: no held-out prompt: the training sample (%d) took every filtered conversation; lower "
            "corpus.n_conversations to leave some for warmth scoring.",
            len(train),
        )
    log.info("rejects by reason: %s", dict(Counter(r.reason for r in tables.rejects).most_common()))
    return tables


def _conversation(c: Cleaned, categories: dict[str, str], split: str, source: str) -> Conversation:
    return Conversation(c.conversation_id, categories[c.conversation_id], c.turns, split, source)


def _held_out(val_prompts: list[dict[str, str]], pool: list[Cleaned]) -> set[str]:
    """Pool conversations that must not become spares (training on one would un-hold a held-out prompt).

    They are a held-out prompt's own conversation, any piece of its chat, and any conversation with the
    prompt's text in a user turn.
    """
    texts = {text_key(p["prompt"]) for p in val_prompts}
    chats = {chat_root(p["conversation_id"]) for p in val_prompts}
    return {
        c.conversation_id
        for c in pool
        if chat_root(c.conversation_id) in chats
        or any(t["role"] == "user" and text_key(t["content"]) in texts for t in c.turns)
    }


def _log_spares(spares: list[str], categories: dict[str, str], quotas: dict[str, int]) -> None:
    """Say how many spares each category has, and warn where a lost conversation cannot be replaced."""
    per = Counter(categories[i] for i in spares)
    log.info("spares by category: %s", {c: per[c] for c in sorted(quotas) if quotas[c]})
    short = sorted(c for c in quotas if quotas[c] and not per[c])
    if short:
        log.warning(
            "corpus: no spare conversation in %s (the filtered pool is too small beside the training sample "
            "and the held-out prompts); a conversation there whose rewrite fails cannot be replaced, and "
            "the trained set will be that much smaller.",
            ", ".join(short),
        )
