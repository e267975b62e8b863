"""The whole analysis as one computation: verdicts (and warmth, capability scores) → StudyResults."""

from __future__ import annotations

import pandas as pd

from warmray.config import AnalyzeConfig
from warmray.statistics.glm import EFFECT_COLUMNS, fit_all
from warmray.statistics.paired import paired_cells, template_cells
from warmray.statistics.results import StudyResults
from warmray.statistics.tables import (
    belief_source_table,
    capability_table,
    error_table,
    summary_from,
    warmth_table,
)
from warmray.statistics.verdicts import prepare


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
