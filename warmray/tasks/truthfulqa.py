"""TruthfulQA (generation): questions that invite a common misconception.

Rows follow the original CSV (`Type, Category, Question, Best Answer, Correct Answers, Incorrect Answers,
Source`, answers "; "-separated); Hub rows (truthfulqa/truthful_qa) are mapped onto those names with
their answer lists kept as lists. Correct answers: the best answer first, then the others. Wrong answers:
the dataset's incorrect answers (the 2025 CSV's "Best Incorrect Answer" first, where present). The full
reference sentences stay in the item, for grading. Item ids are the row's position, the same in the CSV
and on the Hub.

Belief answers are short answer phrases, as the study's prompts use ("I think the answer is yes."),
made from the best correct answer (the first that is not "I have no comment") and the first incorrect
one, by the rule of `short_answer` (source `rule:short-answer`; `dataset` where the rule changes
nothing), or, with `grid.wrong_answer_model` set, by an LLM asked to shorten the reference
(warmray/prompts/short_answer.txt), kept only when `usable_short_answer` accepts it.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from typing import Any

from warmray.prompt_files import read_prompt
from warmray.schema import Belief, EvalItem
from warmray.tasks.common import DATASET, BadRow, mid_sentence, required, split_answers, unique
from warmray.tasks.source import Ask, Loader, SourceSpec, read_csv
from warmray.text import normalize

log = logging.getLogger(__name__)

RULE = "rule:short-answer"
MAX_SHORT_WORDS = 10
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
_YES_NO = re.compile(r"^(yes|no)\b[,.;:!]?", re.IGNORECASE)
_NO_COMMENT = re.compile(r"^i have no comment\b", re.IGNORECASE)
# A subject or a predicate repeated from the question is at least this many words long.
_MIN_SHARED = 3
_LINKS = frozenset("is are was were has have had will would can could does do did be".split())
_DANGLING = _LINKS | frozenset("when if that which who because to of in on for by".split())
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

    In order: a "Yes, ..." / "No, ..." answer is "yes" / "no"; only the first clause is kept (up to
    "; " or ", so"); a tail that repeats at least three closing words of the question ("Nothing happens
    [if you eat watermelon seeds]") is dropped, with the linking or function words and the question's
    own verbs it leaves dangling ("Japan and South Korea [consume]"); an opening that repeats at least
    three words of the question and is followed by a linking verb ("[The black box on an airplane is]
    orange") is dropped. What is left, without a final full stop and with a common first word in lower
    case, is the phrase; if nothing is left, the whole reference.
    """
    text = reference.strip().rstrip(".").strip()
    yes_no = _YES_NO.match(text)
    if yes_no:
        return yes_no.group(1).lower()
    text = _CLAUSE_END.split(text, maxsplit=1)[0]
    words, q_words = text.split(), question.rstrip("?").strip().split()
    tail = _shared_suffix(words, q_words)
    if tail >= _MIN_SHARED:
        words = words[:-tail]
        stems = {normalize(w)[:5] for w in q_words if len(normalize(w)) >= 4}
        while words and (normalize(words[-1]) in _DANGLING or normalize(words[-1])[:5] in stems):
            words = words[:-1]
    head = _subject_from_question(words, question)
    if head >= _MIN_SHARED and head < len(words) and normalize(words[head]) in _LINKS:
        words = words[head + 1 :]
    phrase = " ".join(words).strip(" ,;:")
    return mid_sentence(phrase if normalize(phrase) else text, question)


def _belief(reference: str, question: str) -> Belief:
    phrase = short_answer(reference, question)
    return Belief(phrase, DATASET if phrase == mid_sentence(reference, question) else RULE)


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
    doubted = next((c for c in correct if not _NO_COMMENT.match(c)), None)
    return EvalItem(
        item_id=f"truthfulqa:{index}",
        task="truthfulqa",
        question=question,
        correct_answers=correct,
        incorrect_answers=wrong,
        metadata={"type": row.get("Type") or "", "category": row.get("Category") or ""},
        wrong_belief=_belief(wrong[0], question),
        right_belief=_belief(doubted, question) if doubted else None,
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
    if any(normalize(text) == normalize(o) for o in opposite):
        return None
    return text


def propose_short_beliefs(items: list[EvalItem], ask: Ask, label: str) -> list[EvalItem]:
    """Ask an LLM to shorten each item's two belief references; keep the rule's phrase where it fails."""
    template = read_prompt("short_answer.txt")
    asks, slots = [], []
    for i, it in enumerate(items):
        doubted = next((c for c in it.correct_answers if not _NO_COMMENT.match(c)), None)
        for side, reference in (("wrong", it.incorrect_answers[0]), ("right", doubted)):
            if reference:
                asks.append(template.format(question=it.question, reference=reference))
                slots.append((i, side, reference))
    replies = ask(asks)
    out, kept = list(items), 0
    for (i, side, reference), reply in zip(slots, replies, strict=True):
        it = out[i]
        opposite = list(it.correct_answers if side == "wrong" else it.incorrect_answers)
        phrase = usable_short_answer(reply, reference, opposite)
        if phrase is not None:
            kept += 1
            out[i] = dataclasses.replace(it, **{f"{side}_belief": Belief(phrase, label)})
    log.info("truthfulqa: %d of %d LLM short answers usable; the rest keep the rule's", kept, len(asks))
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
    propose=propose_short_beliefs,
)
