"""An LLM judge: the judge model labels each response CORRECT or INCORRECT against the reference.

The judge's own text is always kept (`judge_raw`). `parse_judgement` reads the label the reply gives:
"INCORRECT", "NOT CORRECT", "Incorrect." and the like are INCORRECT; "CORRECT" alone is CORRECT. A
reply that opens with a label (after markup such as "**" or "Verdict:") gives that label, unless it
goes on to offer the other ("CORRECT or INCORRECT"); otherwise the labels written in capitals anywhere
in the reply decide, when they agree. Anything else (no label, or both) is UNPARSEABLE: recorded as
such, never guessed.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from warmray.grading.grader import Graded
from warmray.prompt_files import read_prompt
from warmray.schema import CORRECT, INCORRECT, UNPARSEABLE, Col

if TYPE_CHECKING:  # the config module imports this package for the grader names
    from warmray.config import JudgeConfig

log = logging.getLogger(__name__)

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


def grade_by_llm(responses: pd.DataFrame, judge: JudgeConfig, scratch: Path) -> Graded:
    """The LLM judge (registry name `llm`): `judge.model` labels every response not refused.

    The judge's answers are kept in `scratch`, resumable per row (warmray.infer). A response whose judge
    request failed after its tries (warmray.infer.failures: fewer than `judge.engine.max_failed_fraction`,
    else infer stops) gets no verdict: it is left out of the verdicts and its error is in `Graded.failed`.
    """
    from warmray import infer  # imports Ray: only when an LLM judge grades

    out = responses.copy()
    asks = out.loc[~out[Col.IS_REFUSAL], ["response_id", "question", "correct_answers", "incorrect_answers"]]
    asks = asks.assign(
        messages=[
            judge_messages(q, list(c), list(i), r)
            for q, c, i, r in zip(
                asks["question"],
                asks["correct_answers"],
                asks["incorrect_answers"],
                out.loc[asks.index, Col.RESPONSE],
                strict=True,
            )
        ]
    )[["response_id", "messages"]]
    judged = infer.answer(
        asks, "response_id", scratch, judge.model, judge.engine, judge.sampling, label="judge"
    ).set_index("response_id")
    failed = judged.index[infer.failures.is_failed(judged["inference_error"])]
    if len(failed):
        log.warning("judge: %d responses set aside, their judge requests failed", len(failed))
        out = out[~out["response_id"].isin(failed)].copy()
    text = out["response_id"].map(judged["generated_text"]).fillna("")
    out["judge_raw"] = text
    out[Col.VERDICT] = [parse_judgement(t) for t in text]
    out["grader"] = f"llm:{judge.model}"
    return Graded(out, judged.loc[failed, "inference_error"])
