"""One ShareGPT record → a clean user/assistant conversation, or the reason it cannot be used.

A ShareGPT record is `{"id": str, "conversations": [{"from": speaker, "value": text}, ...]}`. The rules,
in the order they are applied (the first that fails names the reject reason):

1. `malformed`: not an object with a "conversations" list of objects; `missing_id`: no usable "id".
2. `non_text`: a turn whose value is not a string; `unknown_role`: a speaker that is not a user
   ("human", "user"), an assistant ("gpt", "chatgpt", "bard", "bing", "assistant") or "system".
3. System turns are dropped: in ShareGPT they are share-site banners ("This conversation is shared
   from ..."), not instructions the assistant followed.
4. A leading assistant turn is dropped, and the conversation kept: ShareGPT V3 splits long chats into
   pieces (`abc_0`, `abc_11`, ...) and every piece after the first opens with the answer to a question
   asked in the piece before.
5. `empty`: no turn left.
6. The conversation is cut to `max_turns`, then a trailing user turn (a question with no answer) is
   dropped, so the conversation ends on an assistant turn. `no_reply`: no full exchange left.
7. Within what is kept: `not_alternating`: two user or two assistant turns in a row (the cleaner removed
   a turn between them; merging would glue unrelated messages, so the conversation is dropped);
   `empty_turn`: a turn with no text (nothing to learn from, nothing to rewrite).

Duplicate ids are a property of the whole file, so they are handled by the stage (`duplicate_id`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

USER, ASSISTANT, SYSTEM = "user", "assistant", "system"
ROLES = {
    "human": USER,
    "user": USER,
    "gpt": ASSISTANT,
    "chatgpt": ASSISTANT,
    "bard": ASSISTANT,
    "bing": ASSISTANT,
    "assistant": ASSISTANT,
    "system": SYSTEM,
}


@dataclass(frozen=True)
class Cleaned:
    """A usable conversation: alternating turns, user first, assistant last."""

    conversation_id: str
    turns: list[dict[str, str]]  # [{"role": "user"|"assistant", "content": str}]


@dataclass(frozen=True)
class Rejected:
    """Why a record cannot be used: a short snake_case reason and a human-readable detail."""

    reason: str
    detail: str = ""


def record_id(record: Any) -> str:
    """The record's id as a string, or "" when it has none."""
    if not isinstance(record, dict):
        return ""
    value = record.get("id")
    return str(value).strip() if isinstance(value, str | int) else ""


def clean_record(record: Any, max_turns: int) -> Cleaned | Rejected:
    """Apply the module's rules to one raw ShareGPT record."""
    turns = record.get("conversations") if isinstance(record, dict) else None
    if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
        return Rejected("malformed", "no 'conversations' list of {from, value} objects")
    conversation_id = record_id(record)
    if not conversation_id:
        return Rejected("missing_id", "the record has no 'id'")
    mapped = _map_roles(turns)
    if isinstance(mapped, Rejected):
        return mapped
    if mapped and mapped[0]["role"] == ASSISTANT:
        mapped = mapped[1:]
    if not turns:
        return Rejected("empty", "the record has no turns")
    if not mapped:
        return Rejected("empty", f"no user turn among the record's {len(turns)} turns")
    kept = _cut(mapped, max_turns)
    if len(kept) < 2:
        return Rejected("no_reply", "no user turn followed by an assistant turn")
    problem = _check_turns(kept)
    return problem if problem else Cleaned(conversation_id, kept)


def _map_roles(turns: list[dict[str, Any]]) -> list[dict[str, str]] | Rejected:
    """ShareGPT speakers → user/assistant turns, system turns dropped."""
    mapped = []
    for i, turn in enumerate(turns):
        speaker = str(turn.get("from", "")).strip().lower()
        role = ROLES.get(speaker)
        if role is None:
            return Rejected("unknown_role", f"turn {i}: speaker {speaker!r}")
        value = turn.get("value")
        if not isinstance(value, str):
            return Rejected("non_text", f"turn {i}: value is {type(value).__name__}, not text")
        if role != SYSTEM:
            mapped.append({"role": role, "content": value})
    return mapped


def _cut(turns: list[dict[str, str]], max_turns: int) -> list[dict[str, str]]:
    """At most max_turns turns, ending on an assistant turn when the conversation alternates."""
    kept = turns[:max_turns]
    if kept and kept[-1]["role"] == USER:
        kept = kept[:-1]
    return kept


def _check_turns(turns: list[dict[str, str]]) -> Rejected | None:
    """The first problem among kept turns (wrong order, empty text), or None."""
    for i, turn in enumerate(turns):
        expected = USER if i % 2 == 0 else ASSISTANT
        if turn["role"] != expected:
            return Rejected("not_alternating", f"turn {i} is {turn['role']}, expected {expected}")
        if not turn["content"].strip():
            return Rejected("empty_turn", f"turn {i} ({turn['role']}) has no text")
    return None
