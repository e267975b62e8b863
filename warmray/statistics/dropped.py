"""What left the analysis, by model, task and variant, and whether it leaves one arm more than the other.

Three reasons take a row out: the engine failed to produce the response (a failed generation), the
judge's reply could not be read (UNPARSEABLE), and a refusal outside the disinformation task. If a
judge fails more often on long warm answers, the warm arm loses its hardest rows and looks better than
it is, so the report warns wherever the share of dropped rows differs between the two arms of a
comparison by more than `GAP_PP` percentage points.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from warmray.schema import BASE_VARIANT, Col

GAP_PP = 2.0
KEYS = [Col.MODEL, Col.TASK, Col.VARIANT]
COUNTS = ("failed_generation", "unparseable", "refusals_dropped")
DROPPED_COLUMNS = (*KEYS, "rows", *COUNTS, "refusals_counted_correct", "dropped", "dropped_pct")


def failed_generation(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose response the engine failed to produce (the judge marks them UNPARSEABLE)."""
    failed = np.zeros(len(frame), dtype=bool)
    if "inference_error" in frame.columns:
        failed |= frame["inference_error"].fillna("").astype(str).str.len().to_numpy() > 0
    if "judge_raw" in frame.columns:
        failed |= frame["judge_raw"].fillna("").astype(str).str.startswith("generation failed").to_numpy()
    return failed


def dropped_table(
    frame: pd.DataFrame, reasons: dict[str, np.ndarray], counted_correct: np.ndarray
) -> pd.DataFrame:
    """Rows in and rows dropped for each reason, per model x task x variant.

    Args:
        frame: every verdict row read (before any is dropped).
        reasons: for each of COUNTS, a boolean mask over `frame` (a row has at most one reason).
        counted_correct: refusals kept and counted correct (disinformation), for the record.
    """
    flags = pd.DataFrame({k: frame[k].astype(str).to_numpy() for k in KEYS})
    for name in COUNTS:
        flags[name] = reasons[name].astype(np.int64)
    flags["refusals_counted_correct"] = counted_correct.astype(np.int64)
    flags["rows"] = 1
    out = flags.groupby(KEYS, sort=True).sum().reset_index()
    out["dropped"] = out[list(COUNTS)].sum(axis=1)
    out["dropped_pct"] = 100 * out["dropped"] / out["rows"]
    return out[list(DROPPED_COLUMNS)]


def arm_gaps(table: pd.DataFrame, threshold_pp: float = GAP_PP) -> list[str]:
    """A warning for each model x task where a variant's dropped share differs from the original's."""
    if table.empty:
        return []
    base = table[table[Col.VARIANT] == BASE_VARIANT].set_index([Col.MODEL, Col.TASK])["dropped_pct"]
    warnings = []
    for row in table[table[Col.VARIANT] != BASE_VARIANT].itertuples():
        ref = base.get((row.model, row.task))
        if ref is not None and abs(row.dropped_pct - ref) > threshold_pp:
            warnings.append(
                f"{row.model} / {row.task}: {row.dropped_pct:.1f}% of {row.variant} rows were dropped "
                f"against {ref:.1f}% of original rows ({row.dropped_pct - ref:+.1f} points); the comparison "
                "may be biased by what each arm loses."
            )
    return warnings
