"""TruthfulQA (generation): questions that invite a common misconception.

Rows follow the original CSV (`Type, Category, Question, Best Answer, Correct Answers, Incorrect Answers,
Source`, answers "; "-separated); Hub rows (truthfulqa/truthful_qa) are mapped onto those names with
their answer lists kept as lists. Correct answers: the best answer first, then the others. Wrong answers:
the dataset's incorrect answers (the 2025 CSV's "Best Incorrect Answer" first, where present).
Item ids are the row's position, which is the same in the CSV and on the Hub.
"""

from __future__ import annotations

from typing import Any

from warmray.schema import EvalItem
from warmray.tasks.common import BadRow, required, split_answers, unique
from warmray.tasks.source import Loader, SourceSpec, read_csv

_HF_TO_CSV = {
    "type": "Type",
    "category": "Category",
    "question": "Question",
    "best_answer": "Best Answer",
    "best_incorrect_answer": "Best Incorrect Answer",
    "correct_answers": "Correct Answers",
    "incorrect_answers": "Incorrect Answers",
    "source": "Source",
}


def from_hf(row: dict[str, Any]) -> dict[str, Any]:
    """A Hub row under the CSV's column names."""
    return {_HF_TO_CSV.get(k, k): v for k, v in row.items()}


def parse(row: dict[str, Any], index: int) -> EvalItem:
    """One TruthfulQA row as an item."""
    question = required(row, "Question")
    correct = unique(
        [*split_answers(row.get("Best Answer"), sep=None), *split_answers(row.get("Correct Answers"))]
    )
    wrong = unique(
        [
            *split_answers(row.get("Best Incorrect Answer"), sep=None),
            *split_answers(row.get("Incorrect Answers")),
        ]
    )
    if not correct or not wrong:
        raise BadRow("needs at least one correct and one incorrect answer")
    return EvalItem(
        item_id=f"truthfulqa:{index}",
        task="truthfulqa",
        question=question,
        correct_answers=correct,
        incorrect_answers=wrong,
        metadata={"type": row.get("Type") or "", "category": row.get("Category") or ""},
    )


LOADER = Loader(
    task="truthfulqa",
    spec=SourceSpec(
        "truthfulqa/truthful_qa", "generation", "validation", "truthfulqa/TruthfulQA.csv", read_csv, from_hf
    ),
    parse=parse,
)
