"""`analyze`: verdicts in, the study's tables, figures and report out."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from warmray.config import AnalyzeConfig
from warmray.report import build_blocks, draw_figures, write_report
from warmray.statistics import compute

TITLE = "warmray report"


def analyze(
    verdicts: pd.DataFrame,
    out_dir: Path,
    *,
    config: AnalyzeConfig,
    run_info: dict | None = None,
    warmth: pd.DataFrame | None = None,
    capability: pd.DataFrame | None = None,
) -> dict[str, int]:
    """Run the study's analysis; write report.md, report.html, tables/*.csv, figures/*.png into `out_dir`.

    Returns:
        The row count of each table written, by table name.
    """
    out_dir = Path(out_dir)
    res = compute(verdicts, config=config, run_info=run_info, warmth=warmth, capability=capability)
    counts = {}
    (out_dir / "tables").mkdir(parents=True, exist_ok=True)
    for name, table in res.tables().items():
        table.to_csv(out_dir / "tables" / f"{name}.csv", index=False)
        counts[name] = len(table)
    res.figures = draw_figures(res, out_dir / "figures")
    write_report(build_blocks(res, out_dir), out_dir, TITLE)
    return counts
