"""Toxicity scores for the corpus filter: a pluggable scorer, and a conversation's score (its worst turn).

Two scorers, chosen by `corpus.toxicity.kind`:

- `lexicon` (the offline default) is a crude keyword screen over a small word list written for warmray
  (`warmray/data/toxicity_lexicon.txt`). It catches explicit profanity, slurs and threats spelled out as
  listed; it misses toxicity without those words (sarcasm, veiled threats, misspellings, other
  languages) and flags listed words used innocently. It is no substitute for a classifier: use it for
  demos and offline tests, and `model` for real runs.
- `model` runs a Hugging Face text-classification model (default `unitary/toxic-bert`) through a
  batched transformers pipeline. A text's score is the highest score among the labels that are not
  benign (`benign_labels`), so both multi-label (toxic, insult, threat, ...) and two-way
  (neutral / toxic) classifiers work. Texts longer than the model's window are scored on their start.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from warmray.config import ToxicityConfig
from warmray.prompt_files import data_path

log = logging.getLogger(__name__)


class ToxicityFilter(Protocol):
    """Anything that scores texts for toxicity, 0 (clean) to 1 (toxic)."""

    def scores(self, texts: list[str]) -> list[float]:
        """One score per text, in order."""
        ...


def builtin_lexicon_path() -> Path:
    """The word list shipped with warmray."""
    return data_path("toxicity_lexicon.txt")


def parse_lexicon(lines: Iterable[str]) -> dict[str, float]:
    """Word-list lines → {term: weight}.

    One term per line, optionally followed by a tab and a weight in [0, 1] (default 1). A term is a word
    or phrase matched whole-word and case-insensitively; a trailing `*` matches any word ending
    (`idiot*` matches idiots, idiotic). Blank lines and lines starting with `#` are ignored.
    """
    weights = {}
    for n, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        term, _, weight = line.partition("\t")
        value = float(weight) if weight.strip() else 1.0
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"lexicon line {n}: weight {value} is outside [0, 1]")
        weights[term.strip().lower()] = value
    return weights


class LexiconFilter:
    """A crude keyword screen: a text scores the highest weight among the listed terms it contains."""

    def __init__(self, weights: dict[str, float]) -> None:
        if not weights:
            raise ValueError("the toxicity lexicon is empty")
        self._weights = {term.rstrip("*"): w for term, w in weights.items()}
        self._prefixes = sorted(t.rstrip("*") for t in weights if t.endswith("*"))
        alternatives = [_term_pattern(t) for t in sorted(weights, key=len, reverse=True)]
        self._pattern = re.compile(r"\b(?:" + "|".join(alternatives) + r")\b")

    @classmethod
    def from_file(cls, path: Path) -> LexiconFilter:
        """A filter from a word-list file (format: `parse_lexicon`)."""
        with path.open(encoding="utf-8") as f:
            return cls(parse_lexicon(f))

    def score(self, text: str) -> float:
        """The highest weight among the terms found in the text; 0 when none is."""
        best = 0.0
        for match in self._pattern.finditer(text.lower().replace("\u2019", "'")):
            best = max(best, self._weight_of(match.group(0)))
            if best >= 1.0:
                break
        return best

    def scores(self, texts: list[str]) -> list[float]:
        """One score per text."""
        return [self.score(t) for t in texts]

    def _weight_of(self, found: str) -> float:
        """The weight of a matched span: exact term first, else the longest prefix term it extends."""
        found = " ".join(found.split())
        if found in self._weights:
            return self._weights[found]
        return max(self._weights[p] for p in self._prefixes if found.startswith(p))


def _term_pattern(term: str) -> str:
    """A regex for one lexicon term: words escaped, any whitespace between words, `*` = word ending."""
    words = [re.escape(w) for w in term.rstrip("*").split()]
    return r"\s+".join(words) + (r"\w*" if term.endswith("*") else "")


class ModelFilter:
    """Scores from a transformers text-classification pipeline, batched."""

    def __init__(
        self, model: str, benign_labels: Sequence[str], batch_size: int = 32, pipe: Any = None
    ) -> None:
        self.benign = {label.lower() for label in benign_labels}
        self.batch_size = batch_size
        self._pipe = pipe if pipe is not None else _load_pipeline(model)

    def scores(self, texts: list[str]) -> list[float]:
        """One score per text: the top non-benign label score."""
        if not texts:
            return []
        outputs = self._pipe(texts, batch_size=self.batch_size, truncation=True, top_k=None)
        return [toxic_score(labels, self.benign) for labels in outputs]


def _load_pipeline(model: str) -> Any:
    import torch
    from transformers import pipeline

    # One GPU if there is one: the classifier is the slow part of the stage on large corpora.
    device = 0 if torch.cuda.is_available() else -1
    log.info("loading toxicity classifier %s (device %s)", model, device)
    return pipeline("text-classification", model=model, device=device)


def toxic_score(label_scores: list[dict[str, Any]], benign: set[str]) -> float:
    """The highest score among non-benign labels of one pipeline output ([{"label", "score"}, ...])."""
    toxic = [float(s["score"]) for s in label_scores if str(s["label"]).lower() not in benign]
    return max(toxic, default=0.0)


def make_filter(config: ToxicityConfig) -> ToxicityFilter:
    """The scorer a config asks for."""
    if config.kind == "model":
        return ModelFilter(config.model, config.benign_labels, config.batch_size)
    path = Path(config.lexicon).expanduser() if config.lexicon else builtin_lexicon_path()
    return LexiconFilter.from_file(path)


def conversation_scores(
    scorer: ToxicityFilter, conversations: Sequence[Sequence[str]], batch_texts: int = 4096
) -> list[tuple[float, int]]:
    """Each conversation's toxicity (the max over its turns) and the index of its worst turn.

    Turns of many conversations go to the scorer together, `batch_texts` at a time, so a model scorer
    sees full batches.
    """
    flat = [(c, t, text) for c, turns in enumerate(conversations) for t, text in enumerate(turns)]
    best: list[tuple[float, int]] = [(0.0, 0)] * len(conversations)
    for start in range(0, len(flat), batch_texts):
        chunk = flat[start : start + batch_texts]
        for (c, t, _), score in zip(chunk, scorer.scores([text for _, _, text in chunk]), strict=True):
            if score > best[c][0]:
                best[c] = (score, t)
    return best
