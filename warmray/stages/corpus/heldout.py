"""Held-out prompts for the warmth measurement: user prompts the trained models never saw.

The study scores warmth on responses to ~1,500 held-out prompts (`CorpusConfig.max_val_prompts`). The
validation split alone is far smaller (10% of 1,617 conversations), so the prompts are, in this order:

1. `origin="val"`: the first user turn of each validation conversation, in split-rank order;
2. `origin="unsampled"`: the first user turn of conversations that passed every filter (well-formed,
   clean, non-toxic) but that the even sampling left out, ranked by a hash of (seed, conversation id),

until `limit` prompts are taken. A prompt is skipped when its text (whitespace collapsed) was already
taken or is a user turn of a training conversation, so no prompt repeats and none was trained on.
Conversations in the training split never contribute a prompt.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from warmray.schema import Conversation
from warmray.seeded import stable_key
from warmray.stages.corpus.sampling import chat_root
from warmray.stages.corpus.sharegpt import Cleaned

VAL, UNSAMPLED = "val", "unsampled"


def text_key(text: str) -> str:
    """The form prompts are compared in: whitespace runs collapsed to one space, ends stripped."""
    return " ".join(text.split())


def heldout_prompts(
    conversations: Sequence[Conversation],
    val_order: Sequence[str],
    unsampled: Iterable[Cleaned],
    limit: int,
    seed: int,
) -> list[dict[str, str]]:
    """The held-out prompt rows (conversation_id, prompt_id, prompt, origin), at most `limit` of them.

    Args:
        conversations: the sampled conversations, with their train / val split.
        val_order: the validation conversation ids in split-rank order.
        unsampled: conversations that passed every filter but were not sampled.
        limit: how many prompts to keep at most.
        seed: orders the unsampled conversations.
    """
    train = [c for c in conversations if c.split == "train"]
    train_chats = {chat_root(c.conversation_id) for c in train}
    trained = {text_key(t["content"]) for c in train for t in c.turns if t["role"] == "user"}
    first_user = {c.conversation_id: c.turns[0]["content"] for c in conversations if c.split == "val"}
    candidates = [(VAL, cid, first_user[cid]) for cid in val_order]
    ranked = sorted(unsampled, key=lambda c: stable_key(seed, "heldout", c.conversation_id))
    candidates += [(UNSAMPLED, c.conversation_id, c.turns[0]["content"]) for c in ranked]
    rows: list[dict[str, str]] = []
    seen = set(trained)
    for origin, cid, prompt in candidates:
        if len(rows) >= limit:
            break
        key = text_key(prompt)
        if key in seen or chat_root(cid) in train_chats:
            continue
        seen.add(key)
        rows.append(
            {"conversation_id": cid, "prompt_id": f"{origin}:{cid}", "prompt": prompt, "origin": origin}
        )
    return rows
