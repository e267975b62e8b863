"""Grading: the study's refusal rules, the reference grader, the LLM judge and judge agreement.

Importing no stage: the judge stage, `judge --from`, `sweep` and the tasks grade through this package.
"""

from warmray.grading.agreement import KAPPA_UNDEFINED, Source, compare, kappa_text, write_run_agreement
from warmray.grading.llm_judge import judge_messages, parse_judgement
from warmray.grading.reference import grade_reference
from warmray.grading.refusal import DEFAULT_RULE, RULES, derive_refusals, is_refusal, refusal_flags

__all__ = [
    "DEFAULT_RULE",
    "KAPPA_UNDEFINED",
    "RULES",
    "Source",
    "compare",
    "derive_refusals",
    "grade_reference",
    "is_refusal",
    "judge_messages",
    "kappa_text",
    "parse_judgement",
    "refusal_flags",
    "write_run_agreement",
]
