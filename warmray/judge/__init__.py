"""The `judge` stage and its graders: refusal rules, reference matching, an LLM judge."""

from warmray.judge.stage import run

__all__ = ["run"]
