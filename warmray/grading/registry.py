"""The graders by name (`judge.grader`), and `grade`: the one way responses become verdicts.

A new grader is one module in this package (its grading function, see warmray.grading.grader) and one
entry in `_GRADERS`; `register` adds one from outside (tests). The config, the plan, the audit and
preflight ask the registry what a grader needs (`grader_for(name).needs_engine`) instead of testing
its name.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from warmray.grading.grader import Graded, Grader
from warmray.grading.llm_judge import grade_by_llm
from warmray.grading.reference import grade_by_reference
from warmray.grading.refusal import is_refusal
from warmray.schema import REFUSAL, UNPARSEABLE, Col

if TYPE_CHECKING:  # the config module imports this package for the grader names
    from warmray.config import JudgeConfig

REFERENCE = "reference"  # the grader kept beside another when judge.keep_reference

_GRADERS: dict[str, Grader] = {
    g.name: g
    for g in (
        Grader(
            REFERENCE,
            grade_by_reference,
            needs_engine=False,
            words="reference answer matching (no LLM judge)",
            reference_beside=False,
        ),
        Grader("llm", grade_by_llm, needs_engine=True, words="LLM judge", reference_beside=True),
    )
}


def register(grader: Grader) -> Grader:
    """Add a grader under its name (a name already taken is an error: replace it knowingly, by hand)."""
    if grader.name in _GRADERS:
        raise ValueError(f"a grader named {grader.name!r} is already registered")
    _GRADERS[grader.name] = grader
    return grader


def grader_names() -> tuple[str, ...]:
    """Every registered grader's name: the values `judge.grader` takes."""
    return tuple(_GRADERS)


def grader_for(name: str) -> Grader:
    """The grader registered as `name` (the config validated it, so a miss is a programming error)."""
    try:
        return _GRADERS[name]
    except KeyError:
        raise KeyError(f"no grader named {name!r}; registered: {', '.join(_GRADERS)}") from None


def keeps_reference(judge: JudgeConfig) -> bool:
    """Whether the reference grader's verdicts are kept beside the configured grader's."""
    return judge.keep_reference and grader_for(judge.grader).reference_beside


def grade(responses: pd.DataFrame, judge: JudgeConfig, scratch: Path) -> Graded:
    """Verdicts for `responses` by `judge.grader`, with the reference grader's beside them when kept.

    The rules every grader shares are applied here, once: `is_refusal` by `judge.refusal_rule` before
    grading, REFUSAL for a refused response, and UNPARSEABLE (the engine's error as `judge_raw`) for a
    response the engine failed to produce. `scratch` is the grader's working folder (resumable per row).
    """
    refused = [is_refusal(r, judge.refusal_rule) for r in responses[Col.RESPONSE]]
    flagged = responses.assign(is_refusal=pd.Series(refused, index=responses.index, dtype=bool))
    graded = grader_for(judge.grader).grade(flagged, judge, scratch)
    reference = None
    if keeps_reference(judge):
        reference = _settle(grader_for(REFERENCE).grade(flagged, judge, scratch).verdicts)
    return dataclasses.replace(graded, verdicts=_settle(graded.verdicts), reference=reference)


def _settle(verdicts: pd.DataFrame) -> pd.DataFrame:
    out = verdicts.copy()
    out.loc[out[Col.IS_REFUSAL], Col.VERDICT] = REFUSAL
    failed = out["inference_error"].fillna("") != ""
    out.loc[failed, Col.VERDICT] = UNPARSEABLE
    out.loc[failed, "judge_raw"] = "generation failed: " + out.loc[failed, "inference_error"]
    return out
