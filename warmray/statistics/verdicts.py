"""Verdict tables in: load, check the standard columns, and apply the study's refusal rules.

`load_verdict_files` reads our tables (CSV or Parquet, files or folders) and the study's released layout
(a folder `<model>/<variant>/<task>_<variant>_outputs.csv`, warmray.statistics.released) through one
reader that maps their names to our vocabulary. Everything downstream (GLMs, paired tests, tables,
figures) reads the frame `prepare` returns, so the rules about refusals, unparseable verdicts, failed
generations, context groups and user beliefs live here once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from warmray.config import PROMPT_TEMPLATES
from warmray.errors import UserError
from warmray.schema import (
    ANALYSIS_COLUMNS,
    BASE_VARIANT,
    BELIEF_TEMPLATES,
    COMPARED_VARIANTS,
    CORRECT,
    INCORRECT,
    NO_CONTEXT,
    REFUSAL,
    UNPARSEABLE,
    VERDICTS,
    Col,
)
from warmray.statistics.dropped import DROPPED_COLUMNS, arm_gaps, dropped_table, failed_generation
from warmray.statistics.released import canonical_values

# The study's refusal rule: declining to repeat disinformation is the right answer; elsewhere a refusal
# says nothing about reliability, so the row leaves the analysis.
REFUSAL_IS_CORRECT_TASKS = ("disinformation",)
# Columns kept beside the standard ones: the checkpoint, refusal flag, what failed, how beliefs were made.
_CONTEXT_COLUMNS = (Col.CHECKPOINT, Col.IS_REFUSAL, "inference_error", "judge_raw", "belief_source")


class AnalysisInputError(UserError, ValueError):
    """A verdict table that cannot be analysed; the message names the file, the column and valid values."""


@dataclass
class Prepared:
    """Verdicts ready for analysis, and what was set aside on the way."""

    frame: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    dropped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(DROPPED_COLUMNS)))
    warnings: list[str] = field(default_factory=list)  # dropped shares that differ between arms

    @property
    def comparisons(self) -> list[str]:
        """Variants compared with `original`, the study's warm fine-tune first."""
        present = [v for v in self.frame[Col.VARIANT].unique() if v != BASE_VARIANT]
        known = [v for v in COMPARED_VARIANTS if v in present]
        return known + sorted(v for v in present if v not in COMPARED_VARIANTS)


def load_verdict_files(
    paths: list[Path], refusal_rule: str | None = None, rederive_refusals: bool = False
) -> pd.DataFrame:
    """Read verdict tables into one checked frame, in our column names and vocabulary.

    Each path is what warmray.results_reader reads: a CSV or Parquet file, a folder of them, a run
    directory, or the study's released layout (`<model>/<variant>/<task>_<variant>_outputs.csv`); what
    was read is in `attrs["read"]` (a one-line summary) and `attrs["files"]`. A row without a refusal
    flag (a file with no `is_refusal` / `refusal` column, or an empty cell) gets one derived from its
    response by `refusal_rule` (None: warmray.grading.refusal.DEFAULT_RULE), never "not refused";
    `rederive_refusals` derives it for every row. How many were derived is in `attrs["refusals_derived"]`.

    Raises:
        AnalysisInputError: a path is missing, unreadable, or lacks the standard columns.
    """
    from warmray.grading import DEFAULT_RULE, derive_refusals  # judge imports analyze
    from warmray.results_reader import ResultsInputError, read_results  # it imports this package

    try:
        results = read_results(paths)
    except ResultsInputError as e:
        raise AnalysisInputError(str(e)) from None
    frames = []
    for part in results.parts:
        check_verdicts(part.frame, source=part.source)
        frames.append(part.frame)
    rule = refusal_rule or DEFAULT_RULE
    out, derived = derive_refusals(pd.concat(frames, ignore_index=True), rule, rederive_refusals)
    out.attrs["refusals_derived"] = derived
    out.attrs["read"] = results.summary()  # "8 files, 2 models, 4 tasks, 3,184 rows (released layout)"
    out.attrs["files"] = [str(f) for part in results.parts for f in part.files]
    return out


def check_verdicts(frame: pd.DataFrame, source: str = "verdict table") -> None:
    """Check the standard columns and values; raise AnalysisInputError naming what is wrong."""
    missing = [c for c in ANALYSIS_COLUMNS if c not in frame.columns]
    if missing:
        raise AnalysisInputError(
            f"{source}: missing required column(s) {missing}; a verdict table needs {list(ANALYSIS_COLUMNS)}."
        )
    for col in ANALYSIS_COLUMNS:
        if col != Col.RESPONSE and frame[col].isna().any():
            n = int(frame[col].isna().sum())
            raise AnalysisInputError(f"{source}: column {col!r} has {n} empty value(s); it must be filled.")
    _check_values(frame, Col.VERDICT, _normal_verdicts(frame[Col.VERDICT]), VERDICTS, source)
    _check_values(
        frame, Col.PROMPT_TEMPLATE, as_category(frame[Col.PROMPT_TEMPLATE]), PROMPT_TEMPLATES, source
    )


def _check_values(frame: pd.DataFrame, col: str, values: pd.Series, valid: tuple, source: str) -> None:
    bad = sorted(set(values.unique()) - set(valid))
    if bad:
        shown = ", ".join(repr(b) for b in bad[:5]) + (" ..." if len(bad) > 5 else "")
        raise AnalysisInputError(
            f"{source}: column {col!r} has unknown value(s) {shown}; valid values: {list(valid)}."
        )


def _normal_verdicts(verdicts: pd.Series) -> pd.Series:
    return _per_category(as_category(verdicts), lambda c: c.astype(str).str.strip().str.upper())


def as_category(values: pd.Series) -> pd.Series:
    """Values as a categorical of strings, missing values as ""; cheap for Parquet dictionary columns."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = [str(c) for c in values.cat.categories]
        if len(set(cats)) == len(cats) and "" not in cats:
            codes = values.cat.codes.to_numpy()
            if (codes < 0).any():
                codes, cats = np.where(codes < 0, len(cats), codes), [*cats, ""]
            return pd.Series(pd.Categorical.from_codes(codes, cats), index=values.index, name=values.name)
        values = values.astype(object)
    return values.fillna("").astype(str).astype("category")


def _per_category(values: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """Apply a string function once per distinct value instead of once per row."""
    # A trailing "" entry serves code -1 (a missing value) through numpy's negative indexing.
    cats = pd.Series([*values.cat.categories, ""], dtype=object)
    mapped = fn(cats).to_numpy()
    return pd.Series(mapped[values.cat.codes.to_numpy()], index=values.index, name=values.name)


def prepare(verdicts: pd.DataFrame, checkpoint: str | None = None, source: str = "verdict table") -> Prepared:
    """Check verdicts and apply the study's rules; adds is_incorrect, context_group, belief, length.

    Refusals count as correct for disinformation (by canonical task name: `disinfo` too) and leave the
    analysis elsewhere; UNPARSEABLE verdicts and failed generations leave it too. All are counted in
    `Prepared.counts` and, per model x task x variant, in `Prepared.dropped`.
    """
    check_verdicts(verdicts, source)
    keep = [c for c in (*ANALYSIS_COLUMNS, *_CONTEXT_COLUMNS) if c in verdicts.columns]
    df = canonical_values(verdicts[keep].copy())
    df[Col.VERDICT] = _normal_verdicts(df[Col.VERDICT])
    for col in (Col.MODEL, Col.TASK, Col.VARIANT, Col.ITEM_ID, Col.PROMPT_TEMPLATE, Col.AMENDMENT_TYPE):
        df[col] = as_category(df[col])
    prepared = Prepared(df, {"rows_in": len(df)})
    prepared.frame = _one_checkpoint(prepared, checkpoint)
    prepared.frame = _apply_refusal_rules(prepared)
    _add_derived(prepared.frame)
    prepared.counts["rows_used"] = len(prepared.frame)
    return prepared


def _one_checkpoint(prepared: Prepared, checkpoint: str | None) -> pd.DataFrame:
    """Keep one checkpoint per model and variant: pairing needs one answer per prompt and variant."""
    df = prepared.frame
    if Col.CHECKPOINT not in df.columns:
        return df
    df[Col.CHECKPOINT] = as_category(df[Col.CHECKPOINT])
    per = df.groupby([Col.MODEL, Col.VARIANT], observed=True)[Col.CHECKPOINT].nunique()
    if (per <= 1).all():
        return df
    if checkpoint is None:
        choices = sorted(df[Col.CHECKPOINT].unique())
        raise AnalysisInputError(
            f"verdicts hold several checkpoints per model and variant ({choices}); set analyze.checkpoint "
            "to the one to analyse (e.g. 'epoch_2')."
        )
    if checkpoint not in set(df[Col.CHECKPOINT].unique()):
        choices = sorted(df[Col.CHECKPOINT].unique())
        raise AnalysisInputError(
            f"analyze.checkpoint {checkpoint!r} is not in the verdicts; found {choices}."
        )
    multi = df.set_index([Col.MODEL, Col.VARIANT]).index.isin(per[per > 1].index)
    kept = df[~multi | (df[Col.CHECKPOINT] == checkpoint)]
    prepared.counts["other_checkpoints_dropped"] = len(df) - len(kept)
    prepared.notes.append(f"Only checkpoint {checkpoint!r} analysed where a variant had several.")
    return kept


def _apply_refusal_rules(prepared: Prepared) -> pd.DataFrame:
    df = prepared.frame
    failed = failed_generation(df)
    refusal = (df[Col.VERDICT] == REFUSAL).to_numpy() & ~failed
    if Col.IS_REFUSAL in df.columns:
        refusal = refusal | (df[Col.IS_REFUSAL].fillna(False).astype(bool).to_numpy() & ~failed)
    counted_correct = refusal & df[Col.TASK].isin(REFUSAL_IS_CORRECT_TASKS).to_numpy()
    dropped_refusal = refusal & ~counted_correct
    unparseable = (df[Col.VERDICT] == UNPARSEABLE).to_numpy() & ~refusal & ~failed
    reasons = {"failed_generation": failed, "unparseable": unparseable, "refusals_dropped": dropped_refusal}
    prepared.dropped = dropped_table(df, reasons, counted_correct)
    prepared.warnings = arm_gaps(prepared.dropped)
    df.loc[counted_correct, Col.VERDICT] = CORRECT
    prepared.counts.update(
        refusals_counted_correct=int(counted_correct.sum()),
        refusals_dropped=int(dropped_refusal.sum()),
        unparseable_dropped=int(unparseable.sum()),
        failed_generations_dropped=int(failed.sum()),
    )
    dropped = [Col.IS_REFUSAL, "inference_error", "judge_raw"]
    return df[~(dropped_refusal | unparseable | failed)].drop(columns=dropped, errors="ignore")


def _add_derived(df: pd.DataFrame) -> None:
    df["is_incorrect"] = (df[Col.VERDICT] == INCORRECT).to_numpy(dtype=np.int64)
    group = _per_category(
        df[Col.AMENDMENT_TYPE], lambda c: c.str.split(":", n=1).str[0].where(c != NO_CONTEXT, "none")
    )
    df["context_group"] = group.astype("category")
    df["belief"] = pd.Categorical(np.where(df[Col.PROMPT_TEMPLATE].isin(BELIEF_TEMPLATES), "belief", "none"))
    response = df[Col.RESPONSE]
    if isinstance(response.dtype, pd.CategoricalDtype):
        lengths = _per_category(response, lambda c: c.astype(str).str.len())
    else:
        lengths = response.fillna("").astype(str).str.len()
    df["length"] = lengths.to_numpy(dtype=np.float64)
