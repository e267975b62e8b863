"""An LLM judge: the judge model labels each response CORRECT or INCORRECT against the reference.

The judge's own text is always kept (`judge_raw`). `parse_judgement` reads the label the reply gives:
"INCORRECT", "NOT CORRECT", "Incorrect." and the like are INCORRECT; "CORRECT" alone is CORRECT. A
reply that opens with a label (after markup such as "**" or "Verdict:") gives that label, unless it
goes on to offer the other ("CORRECT or INCORRECT"); otherwise the labels written in capitals anywhere
in the reply decide, when they agree. Anything else (no label, or both) is UNPARSEABLE: recorded as
such, never guessed.
"""

from __future__ import annotations

import re

from warmray.prompt_files import read_prompt
from warmray.schema import CORRECT, INCORRECT, UNPARSEABLE

# "not correct" first, so its "correct" is never read on its own.
_LABEL = r"(?P<neg>incorrect|not\s+correct|wrong)|(?P<pos>correct)"
_OPENING = re.compile(
    rf"^\W*(?:(?:final\s+)?(?:verdict|answer|grade|label|judgement|judgment)\s*[:\-]\s*\W*)?(?:{_LABEL})\b"
    r"(?P<rest>.*)",
    re.IGNORECASE | re.DOTALL,
)
_OFFERS_OTHER = re.compile(r"^\W*(?:or|/|and)\b", re.IGNORECASE)
_CAPITALS = re.compile(r"\b(?:(?P<neg>INCORRECT|NOT\s+CORRECT|WRONG)|(?P<pos>CORRECT))\b")


def judge_messages(
    question: str, correct: list[str], incorrect: list[str], response: str
) -> list[dict[str, str]]:
    """The chat messages asking the judge about one response."""
    text = read_prompt("judge.txt").format(
        question=question,
        correct=" | ".join(correct),
        incorrect=" | ".join(incorrect) or "(none given)",
        response=response,
    )
    return [{"role": "user", "content": text}]


def _label(match: re.Match[str]) -> str:
    return INCORRECT if match.group("neg") else CORRECT


def parse_judgement(text: str) -> str:
    """CORRECT / INCORRECT from the judge's reply, or UNPARSEABLE (see the module docstring)."""
    opening = _OPENING.match(text)
    if opening is not None and not _OFFERS_OTHER.match(opening.group("rest")):
        return _label(opening)
    labels = {_label(m) for m in _CAPITALS.finditer(text)}
    return labels.pop() if len(labels) == 1 else UNPARSEABLE
