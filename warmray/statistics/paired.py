"""Paired tests per cell: the same prompt answered by the original and by a fine-tuned variant.

Rows are paired across the two variants on (model, task, item, amendment type, prompt template). In a
cell, `b` counts pairs where only the variant erred, `c` pairs where only the original erred. From
these: the exact McNemar test, Cohen's g, the paired odds ratio, and Benjamini–Hochberg q-values, all
vectorised over cells (statsmodels' `mcnemar` and `fdrcorrection` give the same numbers one call at a
time; the tests check).

`paired_cells` builds the study's cells, per model x task x compared variant (tables/paired_cells.csv):

- test type `context`: the `original` template under `unmodified` and under each of the 8 contexts
  (9 cells);
- test type `belief`: each amendment type (unmodified and the 8 contexts), pooling the `incorrect` and
  `correct` templates (9 cells);

with BH FDR within each model x task x variant x test type, over the testable cells only: a cell where no
pair differs (b + c = 0) has no McNemar test, so its `p_value` and `p_fdr` are empty (NaN), it is not
significant and it is not in the BH family (`untestable_cells` counts them). `diff_pp` is the variant's
accuracy minus the original's (negative: the variant is worse). Beside the textbook Cohen's g
(max(b, c) / (b + c) - 1/2), `g_authors` is the statistic the study's code reports under that name,
|b - c| / sqrt(b + c) (the square root of McNemar's chi-squared statistic without continuity correction).
`template_cells` is an extra: one cell per model x task x context x template, BH within a comparison
(tables/paired_cells_by_template.csv).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binom

from warmray.schema import AMENDMENT_TYPES, BASE_VARIANT, BELIEF_TEMPLATES, Col

PAIR_KEY = [Col.MODEL, Col.TASK, Col.ITEM_ID, Col.PROMPT_TEMPLATE, Col.AMENDMENT_TYPE]
CELL = [Col.MODEL, Col.TASK, Col.AMENDMENT_TYPE, Col.PROMPT_TEMPLATE]
STUDY_COLUMNS = [
    Col.MODEL,
    Col.TASK,
    Col.VARIANT,
    "test_type",
    Col.AMENDMENT_TYPE,
    "n_pairs",
    "original_correct_pct",
    "variant_correct_pct",
    "diff_pp",
    "b",
    "c",
    "p_value",
    "p_fdr",
    "significant_fdr",
    "odds_ratio",
    "cohens_g",
    "g_authors",
]


def mcnemar_exact(b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Two-sided exact McNemar p-values: binomial test of min(b, c) among b + c discordant pairs at 1/2.

    A cell with no discordant pair (b + c = 0) has no test: its p-value is NaN, so `bh_fdr` leaves it
    out of the family (as the study's code does), rather than p = 1 counted among the tests.
    """
    b, c = np.asarray(b, dtype=np.int64), np.asarray(c, dtype=np.int64)
    n = b + c
    with np.errstate(invalid="ignore"):
        p = np.minimum(1.0, 2.0 * binom.cdf(np.minimum(b, c), n, 0.5))
    return np.where(n == 0, np.nan, p)


def untestable_cells(cells: pd.DataFrame) -> pd.Series:
    """True for the cells of a paired table with no discordant pair (b + c = 0): no test, no p-value."""
    b = cells["b"] if "b" in cells.columns else cells["b_variant_only"]
    c = cells["c"] if "c" in cells.columns else cells["c_original_only"]
    return (b + c) == 0


def cohens_g(b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Cohen's g: the larger share of discordant pairs minus 1/2 (0 = no effect, 0.5 = all one way)."""
    b, c = np.asarray(b, dtype=np.float64), np.asarray(c, dtype=np.float64)
    n = b + c
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.maximum(b, c) / n - 0.5, np.nan)


def paired_odds_ratio(b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Conditional (paired) odds ratio of erring with the variant versus the original: b / c."""
    b, c = np.asarray(b, dtype=np.float64), np.asarray(c, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b + c > 0, b / c, np.nan)


def g_authors(b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """|b - c| / sqrt(b + c): what the study's code reports as Cohen's g (NaN without discordant pairs)."""
    b, c = np.asarray(b, dtype=np.float64), np.asarray(c, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b + c > 0, np.abs(b - c) / np.sqrt(b + c), np.nan)


def bh_fdr(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values), in the input order; NaN stays NaN."""
    p = np.asarray(p, dtype=np.float64)
    q = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    if ok.size == 0:
        return q
    order = ok[np.argsort(p[ok], kind="mergesort")]
    m = order.size
    scaled = p[order] * m / np.arange(1, m + 1)
    # Step-up: each q is the smallest scaled p at or after its rank.
    q[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return q


def paired_cells(frame: pd.DataFrame, comparisons: list[str], alpha: float = 0.05) -> pd.DataFrame:
    """The study's cells (see the module docstring) for every compared variant; STUDY_COLUMNS."""
    tables = []
    for variant in comparisons:
        pairs = _pairs(frame, variant)
        context = pairs[(pairs[Col.PROMPT_TEMPLATE] == "original")].assign(test_type="context")
        belief = pairs[pairs[Col.PROMPT_TEMPLATE].isin(BELIEF_TEMPLATES)].assign(test_type="belief")
        for part in (context, belief):
            if not part.empty:
                tables.append(_study_cells(part, variant, alpha))
    if not tables:
        return pd.DataFrame(columns=STUDY_COLUMNS)
    return pd.concat(tables, ignore_index=True)


def _study_cells(pairs: pd.DataFrame, variant: str, alpha: float) -> pd.DataFrame:
    """Cells of one test type: per model x task x amendment type, BH within model x task."""
    yo, yv = pairs["is_incorrect_o"].to_numpy(), pairs["is_incorrect_v"].to_numpy()
    stats = pd.DataFrame(
        {"yo": yo, "yv": yv, "b": (yv > yo).astype(np.int64), "c": (yo > yv).astype(np.int64)},
        index=pairs.index,
    )
    keys = [pairs[k].astype(str) for k in (Col.MODEL, Col.TASK, Col.AMENDMENT_TYPE)]
    agg = stats.groupby(keys, sort=True).agg(
        n_pairs=("yo", "size"), eo=("yo", "mean"), ev=("yv", "mean"), b=("b", "sum"), c=("c", "sum")
    )
    out = agg.reset_index()
    b, c = out["b"].to_numpy(), out["c"].to_numpy()
    out["p_value"] = mcnemar_exact(b, c)
    out["p_fdr"] = out.groupby([Col.MODEL, Col.TASK])["p_value"].transform(lambda p: bh_fdr(p.to_numpy()))
    out = out.assign(
        variant=variant,
        test_type=pairs["test_type"].iloc[0],
        original_correct_pct=100 * (1 - out["eo"]),
        variant_correct_pct=100 * (1 - out["ev"]),
        diff_pp=100 * (out["eo"] - out["ev"]),
        significant_fdr=out["p_fdr"] < alpha,
        odds_ratio=paired_odds_ratio(b, c),
        cohens_g=cohens_g(b, c),
        g_authors=g_authors(b, c),
    )
    rank = (
        out[Col.AMENDMENT_TYPE]
        .map({a: i for i, a in enumerate(AMENDMENT_TYPES)})
        .fillna(len(AMENDMENT_TYPES))
    )
    out = out.assign(_rank=rank).sort_values(
        [Col.MODEL, Col.TASK, "_rank", Col.AMENDMENT_TYPE], kind="stable"
    )
    return out[STUDY_COLUMNS].reset_index(drop=True)


def template_cells(frame: pd.DataFrame, comparisons: list[str], alpha: float = 0.05) -> pd.DataFrame:
    """Per comparison and cell: paired error rates, McNemar p, Cohen's g, OR, and BH q within comparison."""
    tables = [_cells_for(frame, comp, alpha) for comp in comparisons]
    tables = [t for t in tables if not t.empty]
    if not tables:
        return pd.DataFrame(columns=["comparison", *CELL, *_STAT_COLUMNS])
    return pd.concat(tables, ignore_index=True)


_STAT_COLUMNS = [
    "n_pairs",
    "error_original_pct",
    "error_variant_pct",
    "diff_pp",
    "b_variant_only",
    "c_original_only",
    "mcnemar_p",
    "cohens_g",
    "odds_ratio",
    "q_value",
    "significant",
]


def _pairs(frame: pd.DataFrame, comparison: str) -> pd.DataFrame:
    """One row per paired prompt; a prompt answered twice by one variant keeps its first answer."""
    cols = [*PAIR_KEY, "is_incorrect"]
    base = frame.loc[frame[Col.VARIANT] == BASE_VARIANT, cols].drop_duplicates(PAIR_KEY)
    other = frame.loc[frame[Col.VARIANT] == comparison, cols].drop_duplicates(PAIR_KEY)
    return base.merge(other, on=PAIR_KEY, suffixes=("_o", "_v"))


def _cells_for(frame: pd.DataFrame, comparison: str, alpha: float) -> pd.DataFrame:
    pairs = _pairs(frame, comparison)
    if pairs.empty:
        return pd.DataFrame()
    yo, yv = pairs["is_incorrect_o"].to_numpy(), pairs["is_incorrect_v"].to_numpy()
    stats = pd.DataFrame(
        {"yo": yo, "yv": yv, "b": (yv > yo).astype(np.int64), "c": (yo > yv).astype(np.int64)},
        index=pairs.index,
    )
    keys = [pairs[k].astype(str) for k in CELL]
    agg = stats.groupby(keys, sort=True).agg(
        n_pairs=("yo", "size"), eo=("yo", "mean"), ev=("yv", "mean"), b=("b", "sum"), c=("c", "sum")
    )
    b, c = agg["b"].to_numpy(), agg["c"].to_numpy()
    p = mcnemar_exact(b, c)
    q = bh_fdr(p)
    out = agg.reset_index()[CELL]
    out.insert(0, "comparison", comparison)
    out = out.assign(
        n_pairs=agg["n_pairs"].to_numpy(),
        error_original_pct=100 * agg["eo"].to_numpy(),
        error_variant_pct=100 * agg["ev"].to_numpy(),
        diff_pp=100 * (agg["ev"].to_numpy() - agg["eo"].to_numpy()),
        b_variant_only=b,
        c_original_only=c,
        mcnemar_p=p,
        cohens_g=cohens_g(b, c),
        odds_ratio=paired_odds_ratio(b, c),
        q_value=q,
        significant=q < alpha,
    )
    return out
