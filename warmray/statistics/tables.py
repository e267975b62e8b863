"""Descriptive tables: error rates, capability with confidence intervals, warmth by checkpoint."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm, t

from warmray.schema import BASE_VARIANT, BELIEF_TEMPLATES, NO_BELIEF_TEMPLATES, NO_CONTEXT, Col
from warmray.statistics.verdicts import (
    AnalysisInputError,
    Prepared,
    prepare,
)

Z95 = float(norm.ppf(0.975))
CAPABILITY_COLUMNS = (Col.MODEL, Col.VARIANT, Col.TASK, Col.ITEM_ID, "score")
WARMTH_COLUMNS = (Col.MODEL, Col.STYLE, Col.EPOCH, "warmth")
# What a capability score of 1 means, per task (AdvBench scores refusals of harmful requests).
CAPABILITY_MEASURE = {"mmlu": "accuracy", "gsm8k": "accuracy", "advbench": "refusal rate"}


def wilson_interval(k: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """95% Wilson score interval for k successes in n trials (good near 0 and 1, unlike Wald)."""
    k, n = np.asarray(k, dtype=np.float64), np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + Z95**2 / n
        centre = (p + Z95**2 / (2 * n)) / denom
        half = Z95 * np.sqrt(p * (1 - p) / n + Z95**2 / (4 * n**2)) / denom
    return centre - half, centre + half


def error_summary(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Error rate (%) and n of every variant per model, task and prompt template, original first.

    Takes raw verdict rows and applies the study's handling of refusals first (correct for
    disinformation, dropped elsewhere), like the full analysis; which rows are refusals is the flag the
    verdicts carry, made by the configured `judge.refusal_rule`.
    """
    return summary_from(prepare(verdicts))


def summary_from(prepared: Prepared) -> pd.DataFrame:
    """`error_summary` on verdicts already prepared."""
    df = prepared.frame
    keys = [Col.MODEL, Col.TASK, Col.PROMPT_TEMPLATE]
    agg = (
        df.groupby([*keys, Col.VARIANT], observed=True)["is_incorrect"]
        .agg(["mean", "size"])
        .unstack(Col.VARIANT)
    )
    variants = [BASE_VARIANT, *prepared.comparisons]
    out = agg.index.to_frame(index=False).astype(str)
    for v in variants:
        if ("mean", v) not in agg.columns:
            continue
        out[f"n_{v}"] = agg[("size", v)].fillna(0).astype(int).to_numpy()
        out[f"error_{v}_pct"] = 100 * agg[("mean", v)].to_numpy()
    return out


def format_summary(df: pd.DataFrame) -> str:
    """A plain-text table of `error_summary`, for the terminal at the end of a run."""
    if df.empty:
        return "No verdicts to summarise."
    shown = pd.DataFrame({c: df[c] for c in (Col.MODEL, Col.TASK, Col.PROMPT_TEMPLATE)})
    variants = [c[len("error_") : -len("_pct")] for c in df.columns if c.startswith("error_")]
    for v in variants:
        rate, n = df[f"error_{v}_pct"], df[f"n_{v}"]
        shown[f"{v} error"] = [f"{r:5.1f}% (n={k})" if k else "-" for r, k in zip(rate, n, strict=True)]
    if BASE_VARIANT in variants:
        for v in (v for v in variants if v != BASE_VARIANT):
            diff = df[f"error_{v}_pct"] - df[f"error_{BASE_VARIANT}_pct"]
            shown[f"{v} - original"] = [f"{d:+.1f} pp" if np.isfinite(d) else "-" for d in diff]
    header = "Error rate by model, task and prompt template (refusals: correct for disinformation, dropped "
    return header + "elsewhere, as in the study)\n" + (shown.to_string(index=False))


def error_table(prepared: Prepared) -> pd.DataFrame:
    """Error rate with 95% CI per model, task and variant, with no context and no user belief."""
    df = prepared.frame
    mask = (df[Col.AMENDMENT_TYPE] == NO_CONTEXT) & df[Col.PROMPT_TEMPLATE].isin(NO_BELIEF_TEMPLATES)
    agg = (
        df[mask]
        .groupby([Col.MODEL, Col.TASK, Col.VARIANT], observed=True)["is_incorrect"]
        .agg(["sum", "size"])
    )
    out = agg.index.to_frame(index=False).astype(str)
    k, n = agg["sum"].to_numpy(), agg["size"].to_numpy()
    low, high = wilson_interval(k, n)
    return out.assign(n=n, errors=k, error_pct=100 * k / n, ci_low_pct=100 * low, ci_high_pct=100 * high)


def belief_source_table(verdicts: pd.DataFrame) -> pd.DataFrame:
    """How the belief answers of the belief prompts were made, per task and template (prompts, not rows).

    Counts distinct prompts (item x template x context), so a prompt answered by several variants counts
    once. Empty when the verdicts carry no `belief_source` column (files made elsewhere).
    """
    cols = [Col.TASK, Col.PROMPT_TEMPLATE, "belief_source", "prompts"]
    if "belief_source" not in verdicts.columns:
        return pd.DataFrame(columns=cols)
    rows = verdicts[verdicts[Col.PROMPT_TEMPLATE].astype(str).isin(BELIEF_TEMPLATES)]
    keys = [Col.TASK, Col.ITEM_ID, Col.PROMPT_TEMPLATE, Col.AMENDMENT_TYPE]
    distinct = rows[[*keys, "belief_source"]].astype(str).drop_duplicates(keys)
    distinct["belief_source"] = distinct["belief_source"].replace("", "(not recorded)")
    out = distinct.groupby([Col.TASK, Col.PROMPT_TEMPLATE, "belief_source"]).size().rename("prompts")
    return out.reset_index()[cols]


def capability_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean score with 95% Wilson CI per model, task and variant (AdvBench: refusal rate).

    An item without a score (NaN: the engine gave no answer) is out of `n` and counted in `unscored`.
    """
    _require(scores, CAPABILITY_COLUMNS, "capability scores")
    by = scores.groupby([Col.MODEL, Col.TASK, Col.VARIANT], sort=True)["score"]
    agg = by.agg(["sum", "count", "size"])
    out = agg.index.to_frame(index=False).astype(str)
    k, n = agg["sum"].to_numpy(dtype=float), agg["count"].to_numpy()
    low, high = wilson_interval(k, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = 100 * k / n
    return out.assign(
        measure=out[Col.TASK].map(CAPABILITY_MEASURE).fillna("mean score"),
        n=n,
        score_pct=pct,
        ci_low_pct=100 * low,
        ci_high_pct=100 * high,
        unscored=agg["size"].to_numpy() - n,
    )


def warmth_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean SocioT warmth with SD and 95% t-interval per model, style and epoch (0 = base model)."""
    _require(scores, WARMTH_COLUMNS, "warmth scores")
    agg = scores.groupby([Col.MODEL, Col.STYLE, Col.EPOCH], sort=True)["warmth"].agg(["mean", "std", "size"])
    out = agg.index.to_frame(index=False)
    n = agg["size"].to_numpy()
    sd = agg["std"].to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        half = t.ppf(0.975, np.maximum(n - 1, 1)) * sd / np.sqrt(n)
    half = np.where(n > 1, half, np.nan)
    mean = agg["mean"].to_numpy()
    return out.assign(n=n, warmth_mean=mean, warmth_sd=sd, ci_low=mean - half, ci_high=mean + half)


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise AnalysisInputError(f"{what}: missing column(s) {missing}; needed: {list(columns)}.")
