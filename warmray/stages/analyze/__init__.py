"""Verdict tables → the study's statistics, tables, figures and report (DESIGN.md points 8 and 9).

`analyze` is the whole analysis; `load_verdict_files` reads tables made anywhere with the standard
columns; `error_summary` and `format_summary` give the short table the CLI prints after a run; `run` is
the pipeline's `analyze` stage, which reads the judge table `warmray.report.verdict_table` names.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from warmray.report import run_info, verdict_table
from warmray.stage import StageContext
from warmray.stages.analyze.study import analyze
from warmray.statistics import AnalysisInputError, error_summary, format_summary, load_verdict_files

__all__ = [
    "AnalysisInputError",
    "analyze",
    "error_summary",
    "format_summary",
    "load_verdict_files",
    "run",
]


def run(ctx: StageContext, out: Path) -> dict[str, int]:
    """Analyse the run's judge table that `verdict_table` names; write the report and tables into `out`."""
    ctx.input_dir("judge")
    table = ctx.rundir.table("judge", verdict_table(ctx.config))
    verdicts = load_verdict_files([table], refusal_rule=ctx.config.judge.refusal_rule)
    return analyze(
        verdicts,
        out,
        config=ctx.config.analyze,
        run_info=run_info(ctx),
        warmth=_optional(ctx, "warmth"),
        capability=_optional(ctx, "capability"),
    )


def _optional(ctx: StageContext, stage: str) -> pd.DataFrame | None:
    """An optional input: the stage's scores when it ran (its identity is in this stage's key)."""
    return ctx.read(stage, "scores") if ctx.rundir.finished(stage) else None
