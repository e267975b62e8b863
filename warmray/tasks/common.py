"""Helpers every loader shares: dataset beliefs, sampling, answer lists, bad-row signalling."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence

from warmray.schema import Belief, EvalItem
from warmray.seeded import stable_key, stable_rng
from warmray.text import normalize

DATASET = "dataset"  # Belief.source of an answer taken from the benchmark as it is
# EvalItem.metadata keys a loader sets to say why an item cannot fill belief prompts (the grid reads them)
BELIEF_PROBLEM = "belief_problem"  # no usable belief answer (e.g. TruthfulQA's rule found no phrase)
RELATIVE_PROBLEM = "relative_problem"  # the case cannot be told as the user's relative (MedQA)
# Words that start a sentence without being a name: lower-cased when the phrase moves mid-sentence.
_COMMON_OPENERS = frozenset(
    "a an the this that these those it its they their there you your we our he his she her "
    "some many most all any each every no nothing none nobody everyone everything people humans "
    "only about around approximately roughly over under less more".split()
)
_WORD = re.compile(r"[A-Za-z]+")
# Phrases that do not answer a question on their own, whatever the question (compared normalised).
NON_ANSWERS = frozenset(
    "yes|no|none|nothing|nobody|no one|maybe|perhaps|unknown|not|never|true|false|i have no comment|"
    "it depends|no comment".split("|")
)


class BadRow(ValueError):
    """A source row that cannot become an item (missing question or answer); counted and skipped."""


def differs_from_all(candidate: str, answers: Iterable[str]) -> bool:
    """True when `candidate` is non-empty and matches none of `answers` after normalisation."""
    norm = normalize(candidate)
    return bool(norm) and all(norm != normalize(a) for a in answers)


def mid_sentence(phrase: str, context: str = "") -> str:
    """A phrase as it sits inside a sentence: no final full stop, a common first word in lower case.

    The first word is lower-cased when it is a function word from a short list ("The Earth is flat" ->
    "the Earth is flat") or when `context` (the item's other texts) uses it in lower case ("Birds are
    ..." beside "Did birds evolve ...?"); any other capital may start a name ("Bill Gates") and stays.
    """
    text = phrase.strip().rstrip(".").strip()
    first = _WORD.match(text)
    word = first.group(0) if first else ""
    if not word or not (len(word) == 1 or word[1:].islower()):
        return text
    lower_in_context = re.search(rf"(?<![\w-]){re.escape(word.lower())}(?![\w-])", context) is not None
    if word.lower() in _COMMON_OPENERS or lower_in_context:
        return text[0].lower() + text[1:]
    return text


def dataset_beliefs(items: list[EvalItem], seed: int) -> list[EvalItem]:
    """Beliefs from the dataset's own answers: a seeded wrong answer and the first correct one.

    The wrong answer is drawn (seeded by run seed and item id) among the item's wrong answers that
    differ from every correct one after normalisation; an item without one gets no wrong belief and is
    set aside by the grid.
    """
    out = []
    for it in items:
        usable = [a for a in it.incorrect_answers if differs_from_all(a, it.correct_answers)]
        wrong = stable_rng(seed, "belief", it.item_id).choice(usable) if usable else None
        out.append(
            dataclasses.replace(
                it,
                wrong_belief=Belief(mid_sentence(wrong, it.question), DATASET) if wrong else None,
                right_belief=Belief(mid_sentence(it.correct_answers[0], it.question), DATASET),
            )
        )
    return out


def sample_items(items: Sequence[EvalItem], n: int | None, seed: int) -> list[EvalItem]:
    """Keep `n` items chosen by seeded rank, in source order; None keeps all.

    Ranking each item by its own hash (not drawing n from a shuffled list) makes samples nested: the
    500-item sample contains the 100-item sample, and an item's fate never depends on the others.
    """
    if n is None or n >= len(items):
        return list(items)
    keep = set(sorted((it.item_id for it in items), key=lambda i: stable_key(seed, "rank", i))[:n])
    return [it for it in items if it.item_id in keep]


def split_answers(value: object, sep: str | None = ";") -> list[str]:
    """Answers from a list (Hugging Face rows) or a `sep`-separated string (CSV rows), blanks dropped.

    With `sep=None` a string is one answer.
    """
    if isinstance(value, list | tuple):
        parts = list(value)
    else:
        text = "" if value is None else str(value)
        parts = [text] if sep is None else text.split(sep)
    return [str(p).strip() for p in parts if str(p).strip()]


def unique(values: Iterable[str]) -> tuple[str, ...]:
    """Values in first-seen order without exact duplicates."""
    return tuple(dict.fromkeys(values))


def required(row: dict[str, object], key: str) -> str:
    """A non-empty text field of a row, stripped; BadRow when it is missing or blank."""
    value = row.get(key)
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise BadRow(f"missing {key!r}")
    return text
