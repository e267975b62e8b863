"""What a grader is: a name, one function from responses to verdicts, and what it needs to run.

A grader function takes the responses (with `is_refusal` already set by `judge.refusal_rule`), the
`judge` config section and a scratch folder for anything it keeps while it works (an engine's answers,
resumable per row), and returns `Graded`: one verdict row per response it graded, with `verdict`,
`grader` and `judge_raw`. What a refused or a failed response gets is decided once, in
`warmray.grading.grade`, so a grader never repeats those rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # the config module imports this package for the grader names
    from warmray.config import JudgeConfig


@dataclass(frozen=True)
class Graded:
    """A grader's verdicts; `failed`: the errors of requests that left a response without a verdict."""

    verdicts: pd.DataFrame
    failed: pd.Series = field(default_factory=lambda: pd.Series(dtype=str))  # by response_id
    reference: pd.DataFrame | None = None  # the reference grader's verdicts, when kept beside


GradeFunction = Callable[[pd.DataFrame, "JudgeConfig", Path], Graded]


@dataclass(frozen=True)
class Grader:
    """One grader of the registry (warmray.grading.registry) and what the rest of warmray asks of it.

    Attributes:
        name: its `judge.grader` value.
        grade: the grading function (see the module docstring).
        needs_engine: it asks `judge.model` through `judge.engine` (planned, checked and timed as such).
        words: who graded, in the report's words; an engine's grader is followed by its model's name.
        reference_beside: with `judge.keep_reference`, the reference grader's verdicts are kept beside
            its own (judge/reference_verdicts) and can be the ones analysed (`analyze.verdicts: reference`).
    """

    name: str
    grade: GradeFunction
    needs_engine: bool
    words: str
    reference_beside: bool

    def describe(self, model: str, endpoint: str | None = None) -> str:
        """Who graded, e.g. "LLM judge gpt-4o at http://..." or "reference answer matching (no LLM judge)"."""
        if not self.needs_engine:
            return self.words
        return f"{self.words} {model}" + (f" at {endpoint}" if endpoint else "")
