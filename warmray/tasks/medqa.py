"""MedQA (USMLE, 4 options, test): clinical vignettes, sent without their options, as the study sent them.

Rows: `{"question", "answer", "options": {"A".."D"}, "answer_idx", "meta_info"}` on the Hub
(GBaker/MedQA-USMLE-4-options) and in the published JSON Lines (which add `realidx`, the row's
position). The item's question is the stem as published, its closing "Which of the following ...?"
kept; the options are never shown (they stay in metadata). `open_ended` rewords a stem so it no longer
points at options ("Which of the following is ..." -> "What is ...", "Which of the following drugs ..."
-> "Which drugs ...", "Of the following options, which ..." -> "Which ..."); that form is kept in
metadata and used with `grid.medqa_stem: open_ended` (`with_stem_form`). Correct answer: the answer
text; wrong answers: the three distractor options. Beliefs: a seeded distractor (asserted) and the
answer (doubted), as the dataset gives them.

On the belief prompts (`incorrect`, `correct`) the study's prompts present the case as the user's
relative. `as_relative` recasts the stem's opening by one rule: "A|An [previously healthy|otherwise
healthy] <age>-year-old [descriptor] <man|woman|male|female>" becomes "My [previously healthy]
<relative>, <age>," with the relative the user's husband or wife for an adult of 25 to 58 (by the
patient's sex) and the user's father or mother from 59 on; descriptors (Caucasian, pregnant, ...) are
kept in brackets after the relative. A stem the rule cannot recast (a child or a younger adult, no age
or sex at its opening) gets no `user_question`; its reason is kept in metadata (`relative_problem`) and
the grid sets the item aside when it builds belief prompts as a relative.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from warmray.schema import EvalItem
from warmray.tasks.common import RELATIVE_PROBLEM, BadRow, dataset_beliefs, differs_from_all, required
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
_DESCRIPTOR = (
    r"(?:Caucasian|African[ -]American|Hispanic|Asian|Latina|Latino|Japanese|Chinese|Indian|"
    r"primigravid|multigravid|pregnant|obese|overweight|nulliparous|postmenopausal|homeless|"
    r"G\d+P\d+|gravida \d+,? para \d+,?)"
)
_HEALTH = r"(?:previously|otherwise) healthy |healthy "
_OPENING = re.compile(
    rf"^An? (?P<health>{_HEALTH})?(?P<age>\d+)[- ](?P<unit>year|month|week|day)s?[- ]old[- ]"
    rf"(?P<desc>(?:{_DESCRIPTOR} )*)(?P<health2>{_HEALTH})?"
    r"(?P<who>man|woman|male|female|boy|girl|infant|newborn|baby)\b"
)
_SPOUSE, _PARENT = {"male": "husband", "female": "wife"}, {"male": "father", "female": "mother"}
_SEX = {"man": "male", "male": "male", "woman": "female", "female": "female"}
SPOUSE_AGES = (25, 58)  # adults told as the user's husband or wife; older ones as a parent
OPEN_ENDED = "open_ended"  # metadata: the open-ended rewrite of the stem and of its relative form


def open_ended(question: str) -> str:
    """The question without its references to answer options."""
    question = _BEFORE_VERB.sub(lambda m: "What" if m.group(1) == "W" else "what", question)
    question = _BEFORE_NOUN.sub(lambda m: f"{m.group(1)}hich", question)
    return _LEADING.sub("Which", question)


def relative_for(who: str, age: int, unit: str) -> tuple[str | None, str]:
    """The patient as the user's relative ("husband", "mother", ...), or None and the reason it is not."""
    if unit != "year" or who not in _SEX:
        return None, f"a child ({age}-{unit}-old {who})"
    if age < SPOUSE_AGES[0]:
        return None, f"aged {age}, below the spouse range {SPOUSE_AGES[0]}-{SPOUSE_AGES[1]}"
    return (_SPOUSE if age <= SPOUSE_AGES[1] else _PARENT)[_SEX[who]], ""


def recast(stem: str) -> tuple[str | None, str]:
    """The stem told by the patient's relative and "", or None and why the rule cannot recast it."""
    m = _OPENING.match(stem)
    if m is None:
        return None, "no '<age>-year-old man|woman' opening"
    age = int(m["age"])
    relative, problem = relative_for(m["who"], age, m["unit"])
    if relative is None:
        return None, problem
    health = m["health"] or m["health2"] or ""
    desc = m["desc"].strip()
    described = f" ({desc})" if desc else ""
    return f"My {health}{relative}{described}, {age},{stem[m.end() :]}".replace(",,", ","), ""


def as_relative(stem: str) -> str | None:
    """The stem told by the patient's relative, or None when its opening does not fit the rule.

    "A 41-year-old man comes ..." -> "My husband, 41, comes ..." (the rule: the module docstring).
    """
    return recast(stem)[0]


def with_stem_form(item: EvalItem, form: str) -> EvalItem:
    """A MedQA item with its stems in `form`: "published" (as loaded) or "open_ended"; others unchanged."""
    alt = item.metadata.get(OPEN_ENDED)
    if form != "open_ended" or not isinstance(alt, dict):
        return item
    return dataclasses.replace(item, question=alt["question"], user_question=alt["user_question"])


def parse(row: dict[str, Any], index: int) -> EvalItem:
    """One MedQA row as an item: the published stem, and its relative form where the rule allows."""
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
    told, problem = recast(question)
    metadata = {
        "options": dict(options),
        "answer_idx": row.get("answer_idx") or "",
        "step": row.get("meta_info") or "",
        OPEN_ENDED: {"question": open_ended(question), "user_question": open_ended(told) if told else ""},
    }
    if problem:
        metadata[RELATIVE_PROBLEM] = problem
    return EvalItem(
        item_id=f"medqa:{source_id}",
        task="medqa",
        question=question,
        correct_answers=(answer,),
        incorrect_answers=wrong,
        metadata=metadata,
        user_question=told or "",
        user_question_form="relative" if told else "as_given",
    )


LOADER = Loader(
    task="medqa",
    spec=SourceSpec(
        "GBaker/MedQA-USMLE-4-options",
        None,
        "test",
        "medqa/test.jsonl",
        read_jsonl,
        columns=("question", "answer", "options", "answer_idx"),
    ),
    parse=parse,
    finish=dataset_beliefs,
)
