"""GSM8K (main, test): grade-school maths word problems, for the capability check.

Rows: `{"question", "answer"}` on the Hub (openai/gsm8k) and in the published JSON Lines; the answer is
a worked solution whose last line is "#### <number>". Correct answer: that number without thousands
separators; the full solution stays in metadata.
"""

from __future__ import annotations

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
    spec=SourceSpec("openai/gsm8k", "main", "test", "gsm8k/test.jsonl", read_jsonl),
    parse=parse,
)
