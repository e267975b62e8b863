"""Grading: the study's refusal rules, the graders chosen by name (`judge.grader`), and judge agreement.

Importing no stage: the judge stage, `judge --from`, `sweep` and the tasks grade through this package,
by `grade`; the rest of warmray asks `grader_for(name)` what a grader needs. Importing no config
either (type hints aside): the config module takes the grader names from here.
"""

from warmray.grading.agreement import (
    KAPPA_UNDEFINED,
    AgreementError,
    Source,
    compare,
    kappa_text,
    read_source,
    write_run_agreement,
)
from warmray.grading.grader import Graded, Grader
from warmray.grading.refusal import DEFAULT_RULE, derive_refusals, is_refusal, refusal_flags
from warmray.grading.registry import grade, grader_for, grader_names, keeps_reference, register

__all__ = [
    "DEFAULT_RULE",
    "KAPPA_UNDEFINED",
    "AgreementError",
    "Graded",
    "Grader",
    "Source",
    "compare",
    "derive_refusals",
    "grade",
    "grader_for",
    "grader_names",
    "is_refusal",
    "kappa_text",
    "keeps_reference",
    "read_source",
    "refusal_flags",
    "register",
    "write_run_agreement",
]
