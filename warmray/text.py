"""The one answer normaliser: every comparison of answers (loaders, grid, graders) goes through it."""

from __future__ import annotations

import re
import string
import unicodedata

# The TriviaQA evaluation rule; these quote marks count as punctuation too.
_PUNCT = set(string.punctuation) | {"‘", "’", "´", "`", "“", "”"}
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize(text: str) -> str:
    """Lower-case, drop punctuation and articles, collapse spaces (the standard TriviaQA rule)."""
    text = unicodedata.normalize("NFKC", text).lower().replace("_", " ")
    text = "".join(" " if ch in _PUNCT else ch for ch in text)
    return " ".join(_ARTICLES.sub(" ", text).split())
