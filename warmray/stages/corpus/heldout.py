"""Held-out prompts for the warmth measurement: user prompts the trained models never saw.

The study scored warmth on ~1,500 validation prompts drawn apart from its 1,617 training conversations
(`CorpusConfig.max_val_prompts`). So are these: the first user turn of conversations that passed every
filter (well-formed, clean, non-toxic) but are not in the training sample, ranked by a hash of (seed,
conversation id), until `limit` prompts are taken (origin "unsampled"). A prompt is skipped when its text
(whitespace collapsed) was already taken or is a user turn of a training conversation, or when it comes
from a piece of a chat the training sample holds, so no prompt repeats and none was trained on.
The spares that may replace a lost training conversation are chosen after, among the rest
(`warmray.stages.corpus.sampling.spare_ids`), so they never hold a held-out prompt either.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from warmray.schema import Conversation
from warmray.seeded import stable_key
from warmray.stages.corpus.sampling import chat_root
from warmray.stages.corpus.sharegpt import Cleaned

UNSAMPLED = "unsampled"


def text_key(text: str) -> str:
    """The form prompts are compared in: whitespace runs collapsed to one space, ends stripped."""
    return " ".join(text.split())


def heldout_prompts(
    train: Sequence[Conversation], pool: Iterable[Cleaned], limit: int, seed: int
) -> list[dict[str, str]]:
    """The held-out prompt rows (conversation_id, prompt_id, prompt, origin), at most `limit` of them.

    Args:
        train: the training sample.
        pool: conversations that passed every filter but are not in the training sample.
        limit: how many prompts to keep at most.
        seed: orders the pool.
    """
    train_chats = {chat_root(c.conversation_id) for c in train}
    seen = {text_key(t["content"]) for c in train for t in c.turns if t["role"] == "user"}
    rows: list[dict[str, str]] = []
    for c in sorted(pool, key=lambda c: stable_key(seed, "heldout", c.conversation_id)):
        if len(rows) >= limit:
            break
        prompt, cid = c.turns[0]["content"], c.conversation_id
        key = text_key(prompt)
        if key in seen or chat_root(cid) in train_chats:
            continue
        seen.add(key)
        rows.append(
            {"conversation_id": cid, "prompt_id": f"{UNSAMPLED}:{cid}", "prompt": prompt, "origin": UNSAMPLED}
        )
    return rows
