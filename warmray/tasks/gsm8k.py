"""GSM8K (main, test): grade-school maths word problems, for the capability check.

Rows: `{"question", "answer"}` on the Hub (openai/gsm8k) and in the published JSON Lines; the answer is
a worked solution whose last line is "#### <number>". Correct answer: that number without thousands
separators; the full solution stays in metadata.
"""

from __future__ import annotations

import re
from typing import Any

from warmray.schema import EvalItem
from warmray.tasks.common import BadRow, required
from warmray.tasks.source import Loader, SourceSpec, read_jsonl


def final_answer(solution: str) -> str:
    """The number after the last '####' of a GSM8K solution, without commas."""
    if "####" not in solution:
        raise BadRow("solution has no '#### <answer>' line")
    answer = solution.rsplit("####", 1)[1].strip().replace(",", "")
    if not answer:
        raise BadRow("empty final answer")
    return answer


# A number as models write it: optional sign, thousands commas, decimals ("-1,234.50").
_NUMBER = r"-?\d[\d,]*(?:\.\d+)?"
_CUED = re.compile(rf"(?:####|answer\s*(?:is|:)|=)\s*\**\s*\$?\s*({_NUMBER})", re.IGNORECASE)
_ANY = re.compile(_NUMBER)


def _canonical(number: str) -> str:
    """'1,234.50' -> '1234.5', '18.00' -> '18', so equal values compare equal as strings."""
    value = number.replace(",", "").rstrip(".")
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value.lstrip("+") or "0"


def extract_number(response: str) -> str:
    """The final number of a worked answer, canonical, or "" when the response holds none.

    The last number after an explicit cue ("Answer: 18", "#### 18", "the answer is $18", "= 18") wins;
    without a cue, the last number in the response (worked solutions end with their result).
    """
    cued = _CUED.findall(response)
    if cued:
        return _canonical(cued[-1])
    found = _ANY.findall(response)
    return _canonical(found[-1]) if found else ""


def grade(response: str, item: EvalItem) -> tuple[str, float]:
    """(the number read from the response, 1.0 if it equals the item's final answer else 0.0)."""
    number = extract_number(response)
    return number, float(bool(number) and number == _canonical(item.correct_answers[0]))


def parse(row: dict[str, Any], index: int) -> EvalItem:
    """One GSM8K row as an item."""
    solution = required(row, "answer")
    return EvalItem(
        item_id=f"gsm8k:{index}",
        task="gsm8k",
        question=required(row, "question"),
        correct_answers=(final_answer(solution),),
        metadata={"solution": solution},
    )


LOADER = Loader(
    task="gsm8k",
    spec=SourceSpec(
        "openai/gsm8k", "main", "test", "gsm8k/test.jsonl", read_jsonl, demo="capability/gsm8k_test.jsonl"
    ),
    parse=parse,
)
