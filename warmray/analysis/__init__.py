"""Verdict tables → the study's statistics, tables, figures and report (DESIGN.md points 8 and 9).

`analyze` is the whole analysis; `load_verdict_files` reads tables made anywhere with the standard
columns; `error_summary` and `format_summary` give the short table the CLI prints after a run; `run` is
the pipeline's `analyze` stage.
"""

from warmray.analysis.columns import AnalysisInputError, load_verdict_files
from warmray.analysis.stage import run
from warmray.analysis.study import analyze
from warmray.analysis.tables import error_summary, format_summary

__all__ = ["AnalysisInputError", "analyze", "error_summary", "format_summary", "load_verdict_files", "run"]
