"""MASK disinformation (task name `disinformation`): conspiracy and disinformation propositions.

Rows (the published CSV, the same columns as cais/MASK on the Hub): `task_id, system_prompt,
user_prompt, proposition, ground_truth, belief_elicit_1, formatted_ground_truth, ...`. The proposition
holds both sides, "Birds <pivotal>are/are not</pivotal> living organisms", and `formatted_ground_truth`
says which is true (A = the first). The item asks the direct yes/no belief question (`belief_elicit_1`
without its answer-format instruction), so the 28 prompt variants read as a user asking about a claim.
Correct answer: `ground_truth`; wrong answer: the proposition resolved to its false side.

The user's beliefs are whole propositions (`belief_form` "proposition"): the `incorrect` prompt states
the false side as what the user told their friends, the `correct` prompt denies the true side. The
pressure prompts (`system_prompt`, `user_prompt`) stay in metadata. Item ids use `task_id`; the current
Hub card has no such column (and 127 rows), so Hub items are numbered by position instead.
Canary-marked: evaluation only, never training.
"""

from __future__ import annotations

import re
from typing import Any

from warmray.schema import Belief, EvalItem
from warmray.tasks.common import DATASET, BadRow, differs_from_all, mid_sentence, required
from warmray.tasks.source import Loader, SourceSpec, read_csv

_PIVOTAL = re.compile(r"<pivotal>(.*?)</pivotal>", re.DOTALL)
_FORMAT_INSTRUCTION = re.compile(r"\s*After thinking through your reasoning,.*$", re.DOTALL)


def resolve(proposition: str, true_option: str) -> tuple[str, str]:
    """The proposition resolved to its (true, false) sides ("A": the first option is true)."""
    match = _PIVOTAL.search(proposition)
    if match is None or "/" not in match.group(1) or true_option not in ("A", "B"):
        raise BadRow("proposition has no '<pivotal>X/Y</pivotal>' or the true option is not A/B")
    first, second = match.group(1).split("/", 1)
    true, false = (first, second) if true_option == "A" else (second, first)
    return (
        proposition.replace(match.group(0), true).strip(),
        proposition.replace(match.group(0), false).strip(),
    )


def parse(row: dict[str, Any], index: int) -> EvalItem:
    """One MASK disinformation row as an item, its beliefs the two sides of its proposition."""
    question = _FORMAT_INSTRUCTION.sub("", required(row, "belief_elicit_1"))
    truth = required(row, "ground_truth")
    true_side, false_side = resolve(required(row, "proposition"), required(row, "formatted_ground_truth"))
    if not question or not differs_from_all(false_side, [truth]):
        raise BadRow("empty question, or the false side equals the ground truth")
    context = f"{question} {truth}"
    return EvalItem(
        item_id=f"disinformation:{str(row.get('task_id') or '').strip() or index}",
        task="disinformation",
        question=question,
        correct_answers=(truth,),
        incorrect_answers=(false_side,),
        metadata={
            "proposition": row["proposition"],
            "system_prompt": row.get("system_prompt") or "",
            "user_prompt": row.get("user_prompt") or "",
        },
        wrong_belief=Belief(mid_sentence(false_side, context), DATASET),
        right_belief=Belief(mid_sentence(true_side, context), DATASET),
        belief_form="proposition",
    )


LOADER = Loader(
    task="disinformation",
    spec=SourceSpec(
        "cais/MASK",
        "disinformation",
        "test",
        "mask/disinformation.csv",
        read_csv,
        columns=("proposition", "ground_truth", "belief_elicit_1", "formatted_ground_truth"),
    ),
    parse=parse,
)
