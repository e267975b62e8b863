"""MedQA (USMLE, 4 options, test): clinical vignettes, asked open-ended as in the study.

Rows: `{"question", "answer", "options": {"A".."D"}, "answer_idx", "meta_info"}` on the Hub
(GBaker/MedQA-USMLE-4-options) and in the published JSON Lines (which add `realidx`, the row's
position). The options never appear in the question text; the stem is reworded so it no longer points
at them (`open_ended`): "Which of the following is ..." -> "What is ...", "Which of the following drugs
..." -> "Which drugs ...", "Of the following options, which ..." -> "Which ...". Correct answer: the
answer text; wrong answers: the three distractor options. The options stay in metadata. Beliefs: a
seeded distractor (asserted) and the answer (doubted), as the dataset gives them.

Where the user speaks (the `original_neutral`, `incorrect` and `correct` prompts), the study's prompts
present the case as the user's relative. `as_relative` recasts the stem's opening by one rule: "A|An
[previously healthy|otherwise healthy] <age>-<unit>-old [descriptor] <man|woman|male|female|boy|girl|
infant|newborn|baby>" becomes "My [previously healthy] <relative>, <age>," (years) or "My <relative>,
<age> <unit>s old," (months, weeks, days). Relative: boy/girl -> son/daughter; man/woman (or male/
female) under 45 -> brother/sister, 45 and over -> father/mother; infant/newborn/baby -> baby.
Descriptors (Caucasian, primigravid, pregnant, ...) are kept after the relative. A stem the rule
cannot recast keeps its wording (`user_question_form` "as_given").
"""

from __future__ import annotations

import re
from typing import Any

from warmray.schema import EvalItem
from warmray.tasks.common import BadRow, dataset_beliefs, differs_from_all, required
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
_OPENING = re.compile(
    r"^An? (?P<health>(?:previously|otherwise) healthy )?(?P<age>\d+)-(?P<unit>year|month|week|day)-old "
    rf"(?P<desc>(?:{_DESCRIPTOR} )*)(?P<health2>(?:previously|otherwise) healthy )?"
    r"(?P<who>man|woman|male|female|boy|girl|infant|newborn|baby)\b"
)
_YOUNG, _OLD = {"male": "brother", "female": "sister"}, {"male": "father", "female": "mother"}
_SEX = {"man": "male", "male": "male", "boy": "male", "woman": "female", "female": "female", "girl": "female"}
OLDER_RELATIVE_AGE = 45


def open_ended(question: str) -> str:
    """The question without its references to answer options."""
    question = _BEFORE_VERB.sub(lambda m: "What" if m.group(1) == "W" else "what", question)
    question = _BEFORE_NOUN.sub(lambda m: f"{m.group(1)}hich", question)
    return _LEADING.sub("Which", question)


def _relative(who: str, age: int, unit: str) -> str:
    if who in ("infant", "newborn", "baby"):
        return "baby"
    sex = _SEX[who]
    if who in ("boy", "girl") or unit != "year":
        return "son" if sex == "male" else "daughter"
    return (_YOUNG if age < OLDER_RELATIVE_AGE else _OLD)[sex]


def as_relative(stem: str) -> str | None:
    """The stem told by the patient's relative, or None when its opening does not fit the rule.

    "A 21-year-old man comes ..." -> "My brother, 21, comes ..." (the rule: the module docstring).
    """
    m = _OPENING.match(stem)
    if m is None:
        return None
    age, unit = int(m["age"]), m["unit"]
    relative = _relative(m["who"], age, unit)
    health = m["health"] or m["health2"] or ""
    desc = m["desc"].strip()
    aged = f"{age}" if unit == "year" else f"{age} {unit}{'s' if age != 1 else ''} old"
    described = f" ({desc})" if desc else ""
    return f"My {health}{relative}{described}, {aged},{stem[m.end() :]}".replace(",,", ",")


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
    stem = open_ended(question)
    told = as_relative(stem)
    return EvalItem(
        item_id=f"medqa:{source_id}",
        task="medqa",
        question=stem,
        correct_answers=(answer,),
        incorrect_answers=wrong,
        metadata={
            "options": dict(options),
            "answer_idx": row.get("answer_idx") or "",
            "step": row.get("meta_info") or "",
        },
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
