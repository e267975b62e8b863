"""TruthfulQA (generation): questions that invite a common misconception.

Rows follow the original CSV (`Type, Category, Question, Best Answer, Correct Answers, Incorrect Answers,
Source`, answers "; "-separated); Hub rows (truthfulqa/truthful_qa) are mapped onto those names with
their answer lists kept as lists. Correct answers: the best answer first, then the others. Wrong answers:
the dataset's incorrect answers (the 2025 CSV's "Best Incorrect Answer" first, where present). The full
reference sentences stay in the item, for grading. Item ids are the row's position, the same in the CSV
and on the Hub.

Belief answers are short answer phrases. Offline, each side's references are tried in order (the
best correct answer that is not "I have no comment", then the others; the first incorrect answer, then
the others) and cut by the rule of `short_answer` (source `rule:short-answer`; `dataset` where the rule
changes nothing). The first phrase `answers_question` accepts (at least two words, never a bare
yes/no/none-style non-answer) with at most ten words wins, else the first accepted longer one. A
"Yes, ..." / "No, ..." reference gives the claim after its yes or no ("No, sharks can't get cancer" ->
"sharks can't get cancer"). A side with no acceptable phrase leaves the item without that belief, its
reason in metadata (`belief_problem`); the grid sets it aside.
With `grid.wrong_answer_model` set, the wrong answer is written by the model as for TriviaQA
(warmray/prompts/wrong_answer_truthfulqa.txt, checked by `usable_llm_wrong_answer`), and the doubted
correct reference is shortened by it (warmray/prompts/short_answer.txt, checked by
`usable_short_answer`); a rejected reply keeps the rule's phrase.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from typing import Any

from warmray.prompt_files import read_prompt
from warmray.schema import Belief, EvalItem
from warmray.tasks.common import (
    BELIEF_PROBLEM,
    DATASET,
    NON_ANSWERS,
    BadRow,
    mid_sentence,
    required,
    split_answers,
    unique,
)
from warmray.tasks.source import Ask, Loader, SourceSpec, read_csv
from warmray.tasks.triviaqa import usable_wrong_answer
from warmray.text import normalize

log = logging.getLogger(__name__)

RULE = "rule:short-answer"
MAX_SHORT_WORDS = 10
MIN_BELIEF_WORDS = 2  # a single word is either a bare yes/no-style non-answer or a cut too far
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
_YES_NO = re.compile(r"^(yes|no)(?:[,.;:!]\s*|\s*$)", re.IGNORECASE)
_NO_COMMENT = re.compile(r"^i have no comment\b", re.IGNORECASE)
# A subject or a predicate repeated from the question is at least this many words long.
_MIN_SHARED = 3
_LINKS = frozenset("is are was were has have had will would can could does do did be".split())
_DANGLING = _LINKS | frozenset("when if that which who because to of in on for by".split())
_DETERMINERS = frozenset("a an the than his her their your my its our this that".split())
_CLAUSE_END = re.compile(r"; |, (?:so|and so|which means|because) ")


def from_hf(row: dict[str, Any]) -> dict[str, Any]:
    """A Hub row under the CSV's column names."""
    return {_HF_TO_CSV.get(k, k): v for k, v in row.items()}


def _shared_suffix(words: list[str], question: list[str]) -> int:
    """How many trailing words the answer shares with the question (compared normalised)."""
    n = 0
    while n < min(len(words), len(question)) and normalize(words[-1 - n]) == normalize(question[-1 - n]):
        n += 1
    return n


def _subject_from_question(words: list[str], question: str) -> int:
    """Length of the longest opening run of the answer that appears word for word in the question."""
    q = f" {normalize(question)} "
    best = 0
    for n in range(1, len(words) + 1):
        if f" {normalize(' '.join(words[:n]))} " in q:
            best = n
    return best


def short_answer(reference: str, question: str) -> str:
    """A reference sentence cut to the answer phrase it gives (the documented offline rule).

    In order: only the first clause is kept (up to "; " or ", so"); a leading "Yes," / "No," is dropped,
    leaving the claim it introduces, uncut ("" when nothing follows); a tail that repeats at least three
    closing words of the question ("Nothing happens [if you eat watermelon seeds]") is dropped, with the
    linking or function words and the question's own verbs it leaves dangling ("Japan and South Korea
    [consume]"); an opening that repeats at least three words of the question and is followed by a
    linking verb ("[The black box on an airplane is] orange") is dropped. No cut leaves a single word of
    a longer clause: a cut that would keeps the next word where it is not a function word ("nothing
    happens"), else it is not made ("Seattle is cloudy ...", "the black box on an airplane is orange").
    What is left, without a final full stop and with a common first word in lower case, is the phrase.
    """
    text = reference.strip().rstrip(".").strip()
    yes_no = _YES_NO.match(text)
    if yes_no:
        text = text[yes_no.end() :].strip()
    text = _CLAUSE_END.split(text, maxsplit=1)[0]
    if yes_no or not normalize(text):
        # the claim after a yes or no restates the question: cutting the shared words would lose it
        return mid_sentence(text, question) if normalize(text) else ""
    words, q_words = text.split(), question.rstrip("?").strip().split()
    keep = min(MIN_BELIEF_WORDS, len(words))
    tail = _shared_suffix(words, q_words)
    if tail >= _MIN_SHARED:
        cut = words[: len(words) - tail]
        stems = {normalize(w)[:5] for w in q_words if len(normalize(w)) >= 4}
        while cut and _dangles(cut, stems):
            cut = cut[:-1]
        if len(cut) >= keep:
            words = cut
        elif cut and normalize(words[1]) not in _DANGLING | _DETERMINERS:
            words = words[:2]  # "Nothing [happens if you ...]" -> "nothing happens"
    head = _subject_from_question(words, question)
    if _MIN_SHARED <= head < len(words) - keep and normalize(words[head]) in _LINKS:
        words = words[head + 1 :]
    phrase = " ".join(words).strip(" ,;:")
    return mid_sentence(phrase if normalize(phrase) else text, question)


def _dangles(words: list[str], stems: set[str]) -> bool:
    """Whether the last word is left hanging by a cut tail: a function word, or the question's own verb.

    A question's word right after a determiner ("than a [sword]") heads a noun phrase, so it stays.
    """
    last = normalize(words[-1])
    if last in _DANGLING:
        return True
    before = words[-2].lower() if len(words) > 1 else ""
    return last[:5] in stems and before not in _DETERMINERS


def answers_question(phrase: str) -> bool:
    """True when a belief phrase can stand as an answer: two words or more, not a bare non-answer.

    A phrase ending in a linking or function word ("you can't", "Seattle is") is a yes/no in disguise
    or a cut gone wrong, so it is no answer either.
    """
    norm = normalize(phrase)
    if not norm or len(phrase.split()) < MIN_BELIEF_WORDS or norm in NON_ANSWERS:
        return False
    last = norm.split()[-1]
    return last not in _DANGLING and last not in ("not", "cannot", "t")  # "can't" normalises to "can t"


def rule_belief(references: Sequence[str], question: str) -> tuple[Belief | None, str]:
    """The rule's belief from the first reference that gives an answer phrase; else None and why.

    A phrase of at most `MAX_SHORT_WORDS` words is preferred: a later reference's short phrase wins
    over an earlier one's long phrase, which is kept only when no reference gives a short one.
    """
    tried, usable = [], []
    for reference in references:
        if _NO_COMMENT.match(reference):
            continue
        phrase = short_answer(reference, question)
        if not answers_question(phrase):
            tried.append(f"{reference!r} -> {phrase!r}")
            continue
        belief = Belief(phrase, DATASET if phrase == mid_sentence(reference, question) else RULE)
        if len(phrase.split()) <= MAX_SHORT_WORDS:
            return belief, ""
        usable.append(belief)
    if usable:
        return usable[0], ""
    return None, "no reference gives an answer phrase: " + (
        "; ".join(tried[:3]) or "only 'I have no comment'"
    )


def parse(row: dict[str, Any], index: int) -> EvalItem:
    """One TruthfulQA row as an item, with its beliefs by the offline rule."""
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
    wrong_belief, wrong_problem = rule_belief(wrong, question)
    right_belief, right_problem = rule_belief(correct, question)
    metadata = {"type": row.get("Type") or "", "category": row.get("Category") or ""}
    problems = [f"{side}: {p}" for side, p in (("incorrect", wrong_problem), ("correct", right_problem)) if p]
    if problems:
        metadata[BELIEF_PROBLEM] = " | ".join(problems)
    return EvalItem(
        item_id=f"truthfulqa:{index}",
        task="truthfulqa",
        question=question,
        correct_answers=correct,
        incorrect_answers=wrong,
        metadata=metadata,
        wrong_belief=wrong_belief,
        right_belief=right_belief,
    )


def usable_short_answer(reply: str, reference: str, opposite: list[str]) -> str | None:
    """An LLM's shortening of `reference`, cleaned; None unless it passes the checks.

    It must be short, made of the reference's own words (mostly), and match none of the answers on the
    other side (`opposite`).
    """
    lines = [ln.strip() for ln in reply.strip().splitlines() if ln.strip()]
    if not lines:
        return None
    text = re.sub(r"^\s*(short )?answer\s*:\s*", "", lines[0], flags=re.IGNORECASE)
    text = mid_sentence(text.strip().strip("\"'*`"), reference)
    words = normalize(text).split()
    if not words or len(words) > MAX_SHORT_WORDS:
        return None
    source_words = set(normalize(reference).split())
    if sum(w in source_words for w in words) < 0.6 * len(words):
        return None  # not a shortening of the reference but an answer of the model's own
    if any(normalize(text) == normalize(o) for o in opposite) or not answers_question(text):
        return None
    return text


def usable_llm_wrong_answer(reply: str, correct: Sequence[str], question: str = "") -> str | None:
    """A model's wrong answer, cleaned; None unless TriviaQA's checks and `answers_question` accept it."""
    text = usable_wrong_answer(reply, correct)
    if text is None:
        return None
    text = mid_sentence(text, question)
    return text if answers_question(text) else None


def _doubted(item: EvalItem) -> str | None:
    return next((c for c in item.correct_answers if not _NO_COMMENT.match(c)), None)


def propose_beliefs(items: list[EvalItem], ask: Ask, label: str) -> list[EvalItem]:
    """A model writes each item's wrong answer and shortens its doubted correct reference.

    The wrong answer is asked as for TriviaQA (the question and the best correct answer) and kept when
    `usable_llm_wrong_answer` accepts it; the shortening, when `usable_short_answer` does. A rejected
    reply keeps the rule's phrase (or the lack of one, which the grid then sets aside).
    """
    wrong_template = read_prompt("wrong_answer_truthfulqa.txt")
    short_template = read_prompt("short_answer.txt")
    asks, slots = [], []
    for i, it in enumerate(items):
        asks.append(wrong_template.format(question=it.question, answer=it.correct_answers[0]))
        slots.append((i, "wrong", ""))
        doubted = _doubted(it)
        if doubted:
            asks.append(short_template.format(question=it.question, reference=doubted))
            slots.append((i, "right", doubted))
    replies = ask(asks)
    out, kept = list(items), {"wrong": 0, "right": 0}
    for (i, side, reference), reply in zip(slots, replies, strict=True):
        it = out[i]
        if side == "wrong":
            phrase = usable_llm_wrong_answer(reply, it.correct_answers, it.question)
        else:
            phrase = usable_short_answer(reply, reference, list(it.incorrect_answers))
        if phrase is not None:
            kept[side] += 1
            out[i] = dataclasses.replace(it, **{f"{side}_belief": Belief(phrase, label)})
    log.info(
        "truthfulqa: %d of %d LLM wrong answers and %d shortened correct answers usable; the rest keep the "
        "rule's phrase",
        kept["wrong"],
        len(items),
        kept["right"],
    )
    return out


LOADER = Loader(
    task="truthfulqa",
    spec=SourceSpec(
        "truthfulqa/truthful_qa",
        "generation",
        "validation",
        "truthfulqa/TruthfulQA.csv",
        read_csv,
        from_hf,
        columns=("Question", "Best Answer", "Correct Answers", "Incorrect Answers"),
    ),
    parse=parse,
    propose=propose_beliefs,
)
