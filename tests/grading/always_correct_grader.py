"""A third grader, as a new grader would be written: one module with its function and its registry entry.

It calls every response CORRECT; what a refused or an unanswered response gets is left to the library.
"""

from pathlib import Path

import pandas as pd

from warmray.config import JudgeConfig
from warmray.grading import Graded, Grader
from warmray.schema import CORRECT


def grade_always_correct(responses: pd.DataFrame, judge: JudgeConfig, scratch: Path) -> Graded:
    """Every response CORRECT."""
    return Graded(responses.assign(verdict=CORRECT, grader="always_correct", judge_raw=""))


GRADER = Grader(
    "always_correct",
    grade_always_correct,
    needs_engine=False,
    words="a grader that passes everything",
    reference_beside=True,
)
