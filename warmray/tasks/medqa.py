"""MedQA (USMLE, 4 options, test): clinical vignettes, asked open-ended as in the study.

Rows: `{"question", "answer", "options": {"A".."D"}, "answer_idx", "meta_info"}` on the Hub
(GBaker/MedQA-USMLE-4-options) and in the published JSON Lines (which add `realidx`, the row's
position). The options never appear in the question text; the stem is reworded so it no longer points
at them (`open_ended`): "Which of the following is ..." -> "What is ...", "Which of the following drugs
..." -> "Which drugs ...", "Of the following options, which ..." -> "Which ...". Correct answer: the
answer text; wrong answers: the three distractor options. The options stay in metadata.
"""

from __future__ import annotations

import re
from typing import Any

from warmray.schema import EvalItem
from warmray.tasks.common import BadRow, differs_from_all, required
from warmray.tasks.source import Loader, SourceSpec, read_jsonl

_FOLLOWING = r"(?:one )?of the following(?: options| choices| answers)?"
# "Which of the following" + a verb or adverb reads as "What ..."; + a noun, as "Which <noun>".
_BEFORE_VERB = re.compile(
    rf"\b([Ww])hich {_FOLLOWING}(?=,? (?:is|are|was|were|would|will|could|should|can|may|might|has|have|"
    r"does|do|did|best|most|likely|correctly|accurately|explains|describes|represents|increases|decreases|"
    r"causes|results|contributes|occurs|predisposes|characterizes|indicates|underlies)\b)"
)
_BEFORE_NOUN = re.compile(rf"\b([Ww])hich {_FOLLOWING}\b")
_LEADING = re.compile(r"\b[Oo]f the following(?: options| choices)?, which\b")


def open_ended(question: str) -> str:
    """The question without its references to answer options."""
    question = _BEFORE_VERB.sub(lambda m: "What" if m.group(1) == "W" else "what", question)
    question = _BEFORE_NOUN.sub(lambda m: f"{m.group(1)}hich", question)
    return _LEADING.sub("Which", question)


def parse(row: dict[str, Any], index: int) -> EvalItem:
    """One MedQA row as an open-ended item."""
    question = required(row, "question")
    answer = required(row, "answer")
    options = row.get("options") or {}
    if not isinstance(options, dict):
        raise BadRow("'options' is not an object")
    wrong = tuple(str(v).strip() for k, v in sorted(options.items()) if k != row.get("answer_idx"))
    wrong = tuple(w for w in wrong if differs_from_all(w, [answer]))
    if not wrong:
        raise BadRow("no distractor option that differs from the answer")
    source_id = row.get("realidx", index)
    return EvalItem(
        item_id=f"medqa:{source_id}",
        task="medqa",
        question=open_ended(question),
        correct_answers=(answer,),
        incorrect_answers=wrong,
        metadata={
            "options": dict(options),
            "answer_idx": row.get("answer_idx") or "",
            "step": row.get("meta_info") or "",
        },
    )


LOADER = Loader(
    task="medqa",
    spec=SourceSpec("GBaker/MedQA-USMLE-4-options", None, "test", "medqa/test.jsonl", read_jsonl),
    parse=parse,
)
