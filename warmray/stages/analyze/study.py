"""`analyze`: verdicts in, the study's tables, figures and report out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from warmray.config import AnalyzeConfig
from warmray.stages.analyze import figures as fig
from warmray.stages.analyze.glm import EFFECT_COLUMNS, fit_all
from warmray.stages.analyze.paired import paired_cells, template_cells
from warmray.stages.analyze.report import write_report
from warmray.stages.analyze.results import StudyResults
from warmray.stages.analyze.sections import build_blocks
from warmray.stages.analyze.tables import (
    belief_source_table,
    capability_table,
    error_table,
    summary_from,
    warmth_table,
)
from warmray.stages.analyze.verdicts import prepare

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


def compute(
    verdicts: pd.DataFrame,
    *,
    config: AnalyzeConfig,
    run_info: dict | None = None,
    warmth: pd.DataFrame | None = None,
    capability: pd.DataFrame | None = None,
) -> StudyResults:
    """Every statistic of the analysis, without writing anything."""
    prepared = prepare(verdicts, config.checkpoint)
    outcomes = fit_all(prepared.frame, prepared.comparisons, config.length_covariate)
    effects = [o.effects for o in outcomes if o.effects is not None]
    return StudyResults(
        prepared=prepared,
        config=config,
        run_info=dict(run_info or {}),
        effects=pd.concat(effects, ignore_index=True)
        if effects
        else pd.DataFrame(columns=list(EFFECT_COLUMNS)),
        fits=pd.DataFrame(
            [o.summary_row() for o in outcomes],
            columns=["comparison", "glm", "glm_name", "fitted", "n", "models", "reason", "notes"],
        ),
        cells=paired_cells(prepared.frame, prepared.comparisons, config.fdr_alpha),
        cells_by_template=template_cells(prepared.frame, prepared.comparisons, config.fdr_alpha),
        errors=error_table(prepared),
        summary=summary_from(prepared),
        belief_sources=belief_source_table(verdicts),
        capability=capability_table(capability) if _given(capability) else None,
        warmth=warmth_table(warmth) if _given(warmth) else None,
    )


def _given(frame: pd.DataFrame | None) -> bool:
    return frame is not None and not frame.empty


def draw_figures(res: StudyResults, folder: Path) -> dict[str, Path | None]:
    """Draw figures 1-5 as PNG into `folder`; None for a figure whose input is absent."""
    comp = res.headline_comparison
    frame = res.prepared.frame
    makers: dict[str, Callable[[], Figure | None]] = {
        "fig1_warmth_by_epoch": lambda: fig.warmth_by_epoch(res.warmth),
        "fig2_error_scatter": lambda: fig.error_scatter(frame, comp) if comp else None,
        "fig3_error_boxes": lambda: fig.error_boxes(frame, comp) if comp else None,
        "fig4_capability": lambda: fig.capability_bars(res.capability),
        "fig5_context_change": lambda: fig.context_accuracy_change(res.effects),
    }
    drawn: dict[str, Path | None] = {}
    for name, make in makers.items():
        figure = make()
        drawn[name] = fig.save(figure, folder / f"{name}.png") if figure is not None else None
    return drawn
