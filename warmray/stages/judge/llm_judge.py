"""An LLM judge: the judge model labels each response CORRECT or INCORRECT against the reference.

The judge's own text is always kept (`judge_raw`). An answer that names neither label, or both, is
UNPARSEABLE: recorded as such, never guessed.
"""

from __future__ import annotations

import re

from warmray.prompt_files import read_prompt
from warmray.schema import UNPARSEABLE

_LABEL = re.compile(r"\b(CORRECT|INCORRECT)\b")


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


def parse_judgement(text: str) -> str:
    """CORRECT / INCORRECT from the judge's reply, or UNPARSEABLE."""
    labels = set(_LABEL.findall(text.upper()))
    return labels.pop() if len(labels) == 1 else UNPARSEABLE
