"""Verdict tables → the study's statistics, tables, figures and report (DESIGN.md points 8 and 9).

`analyze` is the whole analysis; `load_verdict_files` reads tables made anywhere with the standard
columns; `error_summary` and `format_summary` give the short table the CLI prints after a run; `run` is
the pipeline's `analyze` stage, which reads the judge table `verdict_table` names.
"""

from warmray.stages.analyze.run_info import run, verdict_table
from warmray.stages.analyze.study import analyze
from warmray.statistics import AnalysisInputError, error_summary, format_summary, load_verdict_files

__all__ = [
    "AnalysisInputError",
    "analyze",
    "error_summary",
    "format_summary",
    "load_verdict_files",
    "run",
    "verdict_table",
]
