"""Helpers every loader shares: answer normalisation, seeded draws, sampling, bad-row signalling."""

from __future__ import annotations

import hashlib
import random
import re
import string
import unicodedata
from collections.abc import Iterable, Sequence
from typing import TypeVar

from warmray.schema import EvalItem

T = TypeVar("T")

# The TriviaQA normalisation: these quote marks count as punctuation too.
_PUNCT = set(string.punctuation) | {"‘", "’", "´", "`"}
_ARTICLES = re.compile(r"\b(a|an|the)\b")


class BadRow(ValueError):
    """A source row that cannot become an item (missing question or answer); counted and skipped."""


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation and articles, collapse spaces (the standard TriviaQA rule)."""
    text = unicodedata.normalize("NFKC", text).lower().replace("_", " ")
    text = "".join(" " if ch in _PUNCT else ch for ch in text)
    return " ".join(_ARTICLES.sub(" ", text).split())


def differs_from_all(candidate: str, answers: Iterable[str]) -> bool:
    """True when `candidate` is non-empty and matches none of `answers` after normalisation."""
    norm = normalize_answer(candidate)
    return bool(norm) and all(norm != normalize_answer(a) for a in answers)


def stable_rng(seed: int, *keys: str) -> random.Random:
    """A generator seeded by the run seed and keys (e.g. an item id): the same draw in every run.

    Python's own hash() is salted per process, so a cryptographic hash keeps draws reproducible.
    """
    digest = hashlib.sha256(":".join([str(seed), *keys]).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def stable_rank(seed: int, key: str) -> int:
    """A seeded pseudo-random rank for one key; sorting by it shuffles without a shared generator."""
    return int.from_bytes(hashlib.sha256(f"{seed}:rank:{key}".encode()).digest()[:8], "big")


def sample_items(items: Sequence[EvalItem], n: int | None, seed: int) -> list[EvalItem]:
    """Keep `n` items chosen by seeded rank, in source order; None keeps all.

    Ranking each item by its own hash (not drawing n from a shuffled list) makes samples nested: the
    500-item sample contains the 100-item sample, and an item's fate never depends on the others.
    """
    if n is None or n >= len(items):
        return list(items)
    keep = set(sorted((it.item_id for it in items), key=lambda i: stable_rank(seed, i))[:n])
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
