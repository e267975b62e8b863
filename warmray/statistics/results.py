"""Everything one analysis produced, handed from the computation to the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from warmray.config import AnalyzeConfig
from warmray.statistics.verdicts import Prepared

# A 95% CI wider than this either side says only that the run had too few items: not shown as a finding.
WIDE_CI_PP = 20.0
# name -> (caption, why it may be missing)
FIGURES = {
    "fig1_warmth_by_epoch": (
        "Figure 1. Mean SocioT warmth of responses at each training checkpoint, per model (warm and cold).",
        "no warmth scores in this run (warmth/scores.parquet absent).",
    ),
    "fig2_error_scatter": (
        "Figure 2. Error rate of the original model (x) against the fine-tuned model (y) per model, task and "
        "context; filled = no user belief, hollow = the user states a wrong belief. Above the diagonal: the "
        "fine-tuned model errs more.",
        "needs original and fine-tuned verdicts.",
    ),
    "fig3_error_boxes": (
        "Figure 3. Fine-tuned minus original error rate (pp) per model and task, over prompt cells: no "
        "context, with an interpersonal context, and with a context plus a wrong user belief.",
        "needs original and fine-tuned verdicts.",
    ),
    "fig4_capability": (
        "Figure 4. Capabilities kept? MMLU and GSM8K accuracy, AdvBench refusal rate, with 95% Wilson CIs.",
        "no capability scores in this run (capability/scores.parquet absent).",
    ),
    "fig5_context_change": (
        "Figure 5. Accuracy change versus the original model per interpersonal context, for each fine-tuned "
        "variant (negative GLM 3 marginal effects, 95% CI).",
        "GLM 3 could not be fitted for any variant.",
    ),
}


@dataclass
class StudyResults:
    """The tables, fits and figures of one analysis, with what the run was."""

    prepared: Prepared
    config: AnalyzeConfig
    run_info: dict[str, Any]
    effects: pd.DataFrame
    fits: pd.DataFrame
    cells: pd.DataFrame  # the study's paired cells
    cells_by_template: pd.DataFrame
    errors: pd.DataFrame
    summary: pd.DataFrame
    belief_sources: pd.DataFrame
    capability: pd.DataFrame | None = None
    warmth: pd.DataFrame | None = None
    figures: dict[str, Path | None] = field(default_factory=dict)

    @property
    def headline_comparison(self) -> str | None:
        """The variant the headline is about: the warm fine-tune, else the first one present."""
        comps = self.prepared.comparisons
        return "warm" if "warm" in comps else (comps[0] if comps else None)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables written to tables/*.csv, by name."""
        out = {
            "glm_effects": self.effects,
            "glm_fits": self.fits,
            "paired_cells": self.cells,
            "paired_cells_by_template": self.cells_by_template,
            "error_no_context": self.errors,
            "error_summary": self.summary,
            "dropped_rows": self.prepared.dropped,
            "belief_sources": self.belief_sources,
        }
        if self.capability is not None:
            out["capability"] = self.capability
        if self.warmth is not None:
            out["warmth_by_checkpoint"] = self.warmth
        return out
