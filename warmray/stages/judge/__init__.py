"""The `judge` stage and its graders: refusal rules, reference matching, an LLM judge."""

from warmray.stages.judge.grading import run

__all__ = ["run"]
