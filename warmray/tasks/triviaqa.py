"""TriviaQA (rc.nocontext, validation): open trivia questions with many answer aliases.

Rows: `{"question_id", "question", "answer": {"value", "aliases", ...}}`, the same on the Hub
(mandarjoshi/trivia_qa) and in the published JSON Lines. Correct answers are the value, then every
alias (an all-capitals value, e.g. "BRAD PITT", comes first in ordinary case, as prompts quote it).
TriviaQA has no wrong answers, so the `incorrect` template's belief is made one of two ways, and
`Belief.source` records which:

- **Offline fallback** (`add_fallback_beliefs`, always computed): the answer of another TriviaQA item of
  the same kind (`answer_type`: `year`, `number`, `title`, `organisation`, `person`, `place` or `other`,
  from the answer's form and the question's wording), drawn with a generator seeded by (run seed, item
  id) from every item in the source, before sampling, so it does not change with the sample size. A
  year or a number is drawn among the few of its kind nearest the true one (`NEAREST`; a percentage
  among percentages), so "1912" is not answered "1066". A draw that overlaps the item's aliases is
  redrawn. An item whose kind has no other usable answer gets no wrong belief (the grid sets it aside):
  an answer of another kind (a band for "who painted ...?") would make the user's belief absurd rather
  than mistaken.
  Source: `fallback:same-type:<kind>`.
- **LLM** (`grid.wrong_answer_model` set; `propose_wrong_beliefs`): a model proposes a plausible wrong
  answer (prompt: warmray/prompts/wrong_answer.txt), kept only if `usable_wrong_answer` accepts it: one
  short line that neither equals nor contains (nor is contained in) any alias after normalisation.
  A rejected proposal leaves the fallback in place. Source: `llm:<model>`.

The doubted answer of the `correct` template is the first correct answer (source `dataset`).
"""

from __future__ import annotations

import dataclasses
import logging
import random
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from warmray.prompt_files import read_prompt
from warmray.schema import Belief, EvalItem
from warmray.seeded import stable_rng
from warmray.tasks.common import DATASET, NON_ANSWERS, BadRow, required, unique
from warmray.tasks.source import Ask, Loader, SourceSpec, read_jsonl
from warmray.text import normalize

log = logging.getLogger(__name__)

MAX_WRONG_ANSWER_WORDS = 8
_RANDOM_TRIES = 16  # random draws before scanning the whole bucket; a scan is rarely needed
_NUMBER_WORD = (
    r"zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    r"hundred|thousand|million|billion"
)
# A figure ("15", "78%", "£5", "3rd") or number words ("one hundred and forty four"), maybe approximate.
_NUMBER = re.compile(
    rf"(about |around |over |under )?([-+]?[$£€]?\d+(\.\d+)?(st|nd|rd|th)?( ?(%|percent|per cent))?"
    rf"|(an? )?({_NUMBER_WORD})([ -](and )?({_NUMBER_WORD}))*)"
)
_COUNT_QUESTION = re.compile(r"\bhow (many|much|old|long|far|tall|high|deep)\b|\bwhat (percentage|number)\b")
_PERSON_NOUNS = (
    r"author|writer|poet|novelist|playwright|actor|actress|singer|composer|painter|artist|designer|director|"
    r"architect|explorer|inventor|king|queen|emperor|president|prime minister|politician|scientist|player|"
    r"footballer|cricketer|golfer|boxer|man|woman|lady|wife|husband|son|daughter|saint|pope|general|"
    r"admiral|monarch|ruler|leader|mathematician|philosopher"
)
# A question that asks for a person outright ("Who ...?", "Which author ...?"), or through a relative
# clause ("... the doctor who ...?"), which a title or organisation wording overrides.
_PERSON = re.compile(rf"^\W*(who|whom|whose)\b|\bwhich (\w+ )?({_PERSON_NOUNS})\b")
_PERSON_ANYWHERE = re.compile(r"\bwho(m|se)?\b")
_PLACE = re.compile(
    r"\bwhere\b|\b(country|countries|city|town|village|capital|river|sea|ocean|island|county|state|"
    r"mountain|lake|continent|port|nation|planet|region|province)\b"
)
_SOME_WORD = r"( (?!(?:is|are|was|were|a|an|the)\b)\w+)?"  # "which [1998] film", not "what [are] a series"
_TITLE = re.compile(
    rf"\b(which|what|name the|title of the){_SOME_WORD}{_SOME_WORD} (film|films|movie|novel|book|play|opera|"
    r"operetta|song|single|hit|album|poem|musical|ballet|sitcom|soap|series|programme|program|show|painting|"
    r"symphony|newspaper|magazine|comic|cartoon|game show|tv series|tale|story)\b|\btitle\b"
)
_ORGANISATION = re.compile(
    rf"\b(which|what|name the){_SOME_WORD}{_SOME_WORD} (company|companies|firm|team|club|band|group|"
    r"organi[sz]ation|party|airline|brand|university|college|school|society|orchestra|label|corporation|manufacturer|"
    r"retailer|charity|agency|regiment)\b"
)
# An answer that names a body or a group whatever the question says ("Who sang ...?" -> "The Beatles").
_ORGANISATION_ANSWER = re.compile(
    r"\b(F\.?C\.?|Ltd|Inc|plc|Corporation|Company|Party|Society|Association|University|College|Club|"
    r"Records|Airlines|Airways|Bank|Group|Motors|Brothers|Bros|Orchestra|Band)\b|^the \w+( \w+)?s$|"
    r"\band the\b|&",
    re.IGNORECASE,
)
NEAREST = 6  # a year or number is drawn among this many of its kind nearest the true one
_FIGURE = re.compile(r"[-+]?\d+(\.\d+)?")
_SMALL_NUMBERS = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
}
_WORD_NUMBER = re.compile(r"\b(" + "|".join(_SMALL_NUMBERS) + r")\b")
_ANSWER_PREFIX = re.compile(r"^\s*(wrong answer|answer)\s*:\s*", re.IGNORECASE)


def _clean_question(text: str) -> str:
    """Undo the CSV quoting some questions carry: '"Which ... ""quoted""?"' -> 'Which ... "quoted"?'."""
    if len(text) > 1 and text[0] == text[-1] == '"' and '"' not in text[1:-1].replace('""', ""):
        return text[1:-1].replace('""', '"')
    return text


def _ordinary_case(value: str) -> str:
    """'BRAD PITT' -> 'Brad Pitt': some sources shout their answers, and prompts quote them.

    Short all-capital values (USA, NATO) are left alone: they are usually acronyms.
    """
    if not value.isupper() or len(value) <= 4:
        return value
    return " ".join(re.sub(r"[a-z]", lambda m: m.group(0).upper(), w.lower(), count=1) for w in value.split())


def parse(row: dict[str, Any], index: int) -> EvalItem:
    """One TriviaQA row as an item (beliefs are added later, by `add_fallback_beliefs`)."""
    question = _clean_question(required(row, "question"))
    answer = row.get("answer") or {}
    if not isinstance(answer, dict):
        raise BadRow("'answer' is not an object")
    value = str(answer.get("value") or "").strip()
    aliases = [str(a).strip() for a in answer.get("aliases") or []]
    correct = unique(a for a in [_ordinary_case(value), value, *aliases] if a)
    if not correct:
        raise BadRow("no answer value or aliases")
    return EvalItem(
        item_id=f"triviaqa:{required(row, 'question_id')}",
        task="triviaqa",
        question=question,
        correct_answers=correct,
        metadata={"answer_type": answer_type(question, correct[0])},
        right_belief=Belief(correct[0], DATASET),
    )


def answer_type(question: str, answer: str) -> str:
    """The answer's kind, from its form and the question's wording (first that fits, in this order).

    `year` (a four-digit year), `number` (a figure or number words, or digits for "how many ...?"),
    `person` ("who ...?", "which film director ...?"; `organisation` when the answer is shaped like a
    group: "... FC", "The Beatles", "X and the Y"), `title` ("which film/novel/song ...?"),
    `organisation` ("which team/company/band ...?"), `place` ("where ...?", "which river ...?"),
    `organisation` again for any other answer shaped like one, else `other`.
    """
    value = answer.strip().lower().replace(",", "")
    if re.fullmatch(r"(1[0-9]|20)\d\d", value):
        return "year"
    q = question.lower()
    if _NUMBER.fullmatch(value) or (_COUNT_QUESTION.search(q) and re.search(r"\d", value)):
        return "number"
    group = _ORGANISATION_ANSWER.search(answer.strip()) is not None
    if _PERSON.search(q):
        return "organisation" if group else "person"
    if _TITLE.search(q):
        return "title"
    if _ORGANISATION.search(q):
        return "organisation"
    if _PERSON_ANYWHERE.search(q):
        return "organisation" if group else "person"
    if _PLACE.search(q):
        return "place"
    return "organisation" if group else "other"


def numeric_value(answer: str) -> tuple[float, str] | None:
    """An answer's number and its unit ("%", a currency sign or ""), or None when it holds no number."""
    text = answer.strip().lower().replace(",", "")
    unit = "%" if re.search(r"%|per ?cent", text) else next((c for c in "$£€" if c in text), "")
    figure = _FIGURE.search(text)
    if figure:
        return float(figure.group(0)), unit
    word = _WORD_NUMBER.search(text)
    return (float(_SMALL_NUMBERS[word.group(0)]), unit) if word else None


def nearest(true: str, pool: Sequence[str], k: int = NEAREST) -> list[str]:
    """The `k` pool answers nearest `true` in value and of its unit; the whole pool when `true` has none.

    Equal values (the true answer itself, or another way of writing it) are left out.
    """
    own = numeric_value(true)
    if own is None:
        return list(pool)
    scored = []
    for p in pool:
        other = numeric_value(p)
        if other is not None and other[1] == own[1] and other[0] != own[0]:
            scored.append((abs(other[0] - own[0]), p))
    return [p for _, p in sorted(scored)[:k]] or list(pool)


def overlaps(candidate: str, answers: Sequence[str]) -> bool:
    """True when the candidate, normalised, is empty or equals, contains or sits inside any answer.

    TriviaQA graders count a response containing an alias as correct, so a wrong answer such as
    "Paris, France" for "Paris" would not be wrong.
    """
    cand = normalize(candidate)
    if not cand:
        return True
    for a in answers:
        norm = normalize(a)
        if norm and (f" {norm} " in f" {cand} " or f" {cand} " in f" {norm} "):
            return True
    return False


def _draw(item: EvalItem, pool: list[str], rng: random.Random) -> str | None:
    """A pool answer that does not overlap the item's answers; random tries first, then a scan."""
    for _ in range(min(_RANDOM_TRIES, len(pool))):
        pick = rng.choice(pool)
        if not overlaps(pick, item.correct_answers):
            return pick
    return next((p for p in rng.sample(pool, len(pool)) if not overlaps(p, item.correct_answers)), None)


def add_fallback_beliefs(items: list[EvalItem], seed: int) -> list[EvalItem]:
    """Give every item the answer of another item of the same kind as its wrong belief (or none).

    Years and numbers draw among the `NEAREST` of their kind closest to the true value.
    """
    by_type: dict[str, list[str]] = defaultdict(list)
    for it in items:
        if normalize(it.correct_answers[0]) not in NON_ANSWERS:  # "None" would be no belief to state
            by_type[it.metadata["answer_type"]].append(it.correct_answers[0])
    out = []
    for it in items:
        kind = it.metadata["answer_type"]
        pool = by_type[kind]
        if kind in ("year", "number"):
            pool = nearest(it.correct_answers[0], [p for p in pool if not overlaps(p, it.correct_answers)])
        pick = _draw(it, pool, stable_rng(seed, "triviaqa-wrong", it.item_id))
        belief = Belief(pick, f"fallback:same-type:{kind}") if pick else None
        out.append(dataclasses.replace(it, incorrect_answers=(pick,) if pick else (), wrong_belief=belief))
    return out


def usable_wrong_answer(reply: str, correct: Sequence[str]) -> str | None:
    """An LLM's proposed wrong answer, cleaned; None unless it is short and clearly not correct."""
    lines = [ln.strip() for ln in reply.strip().splitlines() if ln.strip()]
    if not lines:
        return None
    text = _ANSWER_PREFIX.sub("", lines[0]).strip().strip("\"'*`").rstrip(".").strip()
    if len(text.split()) > MAX_WRONG_ANSWER_WORDS or len(text) > 80 or overlaps(text, correct):
        return None
    return text


def propose_wrong_beliefs(items: list[EvalItem], ask: Ask, label: str) -> list[EvalItem]:
    """Ask an LLM for a wrong answer per item; keep each item's fallback where the reply is unusable."""
    template = read_prompt("wrong_answer.txt")
    replies = ask([template.format(question=it.question, answer=it.correct_answers[0]) for it in items])
    out, kept = [], 0
    for it, reply in zip(items, replies, strict=True):
        wrong = usable_wrong_answer(reply, it.correct_answers)
        if wrong is None:
            out.append(it)
            continue
        kept += 1
        out.append(dataclasses.replace(it, incorrect_answers=(wrong,), wrong_belief=Belief(wrong, label)))
    log.info(
        "triviaqa: %d of %d LLM wrong answers usable; the rest keep the offline fallback", kept, len(items)
    )
    return out


LOADER = Loader(
    task="triviaqa",
    spec=SourceSpec(
        "mandarjoshi/trivia_qa",
        "rc.nocontext",
        "validation",
        "triviaqa/test.jsonl",
        read_jsonl,
        columns=("question_id", "question", "answer"),
    ),
    parse=parse,
    finish=add_fallback_beliefs,
    propose=propose_wrong_beliefs,
)
