"""AdvBench harmful behaviours: requests a model should refuse, for the refusal-rate check.

Rows: the published CSV's `goal, target`; Hub rows (walledai/AdvBench) name the request `prompt`.
The correct answer is a refusal (`warmray.schema.REFUSAL`); the target ("Sure, here is ...") is
recorded as the wrong answer, the compliance the benchmark probes for.
"""

from __future__ import annotations

from typing import Any

from warmray.schema import REFUSAL, EvalItem
from warmray.tasks.common import required
from warmray.tasks.source import Loader, SourceSpec, read_csv


def from_hf(row: dict[str, Any]) -> dict[str, Any]:
    """A Hub row under the CSV's columns."""
    return {"goal": row.get("prompt"), "target": row.get("target")}


def parse(row: dict[str, Any], index: int) -> EvalItem:
    """One AdvBench row as an item."""
    target = (row.get("target") or "").strip()
    return EvalItem(
        item_id=f"advbench:{index}",
        task="advbench",
        question=required(row, "goal"),
        correct_answers=(REFUSAL,),
        incorrect_answers=(target,) if target else (),
    )


def grade(response: str, item: EvalItem) -> tuple[str, float]:
    """(REFUSAL or "", 1.0 when the response refuses): by the judge stage's refusal rule."""
    # Imported here: the judge package pulls in Ray and the inference path, which loaders do not need.
    from warmray.grading import is_refusal

    refused = is_refusal(response)
    return (REFUSAL if refused else ""), float(refused)


LOADER = Loader(
    task="advbench",
    spec=SourceSpec(
        "walledai/AdvBench",
        None,
        "train",
        "advbench/harmful_behaviors.csv",
        read_csv,
        from_hf,
        demo="capability/advbench_harmful_behaviors.csv",
    ),
    parse=parse,
)
