"""The `judge` stage: reads responses, grades them through warmray.grading, writes verdict tables."""

from warmray.stages.judge.grading import run

__all__ = ["run"]
