"""The built-in demo items (warmray/data/demo_items.jsonl), written for this project, for offline runs.

Four kinds, twelve items each: `triviaqa`, `truthfulqa`, `medqa` and `disinformation` style questions,
each with its correct answer (plus aliases) and a wrong answer. Rows:
`{"id", "task", "question", "answers": [...], "wrong_answers": [...]}`. An item keeps the task of its
kind, so per-task analyses work on the demo as on the real sets; its id is "<task>:<id>". Beliefs are
the dataset's answers (`warmray.tasks.common.dataset_beliefs`); the disinformation kind's answers are
claims, so its beliefs are stated as propositions, as MASK's are.
"""

from __future__ import annotations

from typing import Any

from warmray.schema import STUDY_TASKS, Col, EvalItem
from warmray.tasks.common import BadRow, dataset_beliefs, required, split_answers, unique
from warmray.tasks.source import Loader, SourceSpec, read_jsonl


def parse(row: dict[str, Any], index: int) -> EvalItem:
    """One demo row as an item of its kind."""
    task = required(row, Col.TASK)
    if task not in STUDY_TASKS:
        raise BadRow(f"task {task!r} is not one of {STUDY_TASKS}")
    correct = unique(split_answers(row.get("answers")))
    wrong = unique(split_answers(row.get("wrong_answers")))
    if not correct or not wrong:
        raise BadRow("needs at least one answer and one wrong answer")
    return EvalItem(
        item_id=f"{task}:{required(row, 'id')}",
        task=task,
        question=required(row, "question"),
        correct_answers=correct,
        incorrect_answers=wrong,
        metadata={"source": "demo"},
        belief_form="proposition" if task == "disinformation" else "answer",
    )


LOADER = Loader(
    task="demo",
    spec=SourceSpec(
        None,
        None,
        "",
        "demo_items.jsonl",
        read_jsonl,
        builtin="demo_items.jsonl",
        columns=("id", Col.TASK, "question", "answers", "wrong_answers"),
    ),
    parse=parse,
    finish=dataset_beliefs,
)
