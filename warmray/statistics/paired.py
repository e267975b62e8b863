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
pair differs (b + c = 0) has no McNemar test, so its `mcnemar_p` and `q_value` are empty (NaN), it is not
significant and it is not in the BH family (`untestable_cells` counts them). `template_cells` is an
extra: one cell per model x task x context x template, BH within a comparison
(tables/paired_cells_by_template.csv).

Both tables (and the audit's between-targets table) name each statistic once, in `Stat`, with the
meaning and sign in `STAT_DESCRIPTIONS`: differences are error-rate differences, the variant minus the
original, in percentage points (positive: the variant errs more, the study's direction). Beside the
textbook Cohen's g (max(b, c) / (b + c) - 1/2), `g_authors` is the statistic the study's code reports
under that name, |b - c| / sqrt(b + c) (the square root of McNemar's chi-squared statistic without
continuity correction).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binom

from warmray.schema import AMENDMENT_TYPES, BASE_VARIANT, BELIEF_TEMPLATES, Col

PAIR_KEY = [Col.MODEL, Col.TASK, Col.ITEM_ID, Col.PROMPT_TEMPLATE, Col.AMENDMENT_TYPE]
CELL = [Col.MODEL, Col.TASK, Col.AMENDMENT_TYPE, Col.PROMPT_TEMPLATE]


class Stat:
    """The paired tables' statistic columns, one name per statistic in every table that has it."""

    N_PAIRS = "n_pairs"
    ERROR_ORIGINAL_PCT = "error_original_pct"
    ERROR_VARIANT_PCT = "error_variant_pct"
    ERROR_DIFF_PP = "error_diff_pp"
    B = "b_variant_only"
    C = "c_original_only"
    MCNEMAR_P = "mcnemar_p"
    Q_VALUE = "q_value"
    SIGNIFICANT = "significant"
    ODDS_RATIO = "odds_ratio"
    COHENS_G = "cohens_g"
    G_AUTHORS = "g_authors"


# What each column holds, in the tables' order; the report's legend is written from it.
STAT_DESCRIPTIONS = {
    Stat.N_PAIRS: "prompts answered by both the original and the variant",
    Stat.ERROR_ORIGINAL_PCT: "the original's error rate on those prompts, %",
    Stat.ERROR_VARIANT_PCT: "the variant's error rate on those prompts, %",
    Stat.ERROR_DIFF_PP: "error-rate difference, variant minus original, in percentage points (positive: "
    "the variant errs more)",
    Stat.B: "pairs where only the variant erred (McNemar's b)",
    Stat.C: "pairs where only the original erred (McNemar's c)",
    Stat.MCNEMAR_P: "two-sided exact McNemar p-value (empty when no pair differs: no test)",
    Stat.Q_VALUE: "Benjamini-Hochberg q-value within the table's family of cells",
    Stat.SIGNIFICANT: "q_value below analyze.fdr_alpha",
    Stat.ODDS_RATIO: "paired odds ratio of erring with the variant, b / c",
    Stat.COHENS_G: "Cohen's g, max(b, c) / (b + c) - 1/2 (textbook)",
    Stat.G_AUTHORS: "|b - c| / sqrt(b + c), the statistic the study reports as Cohen's g",
}
STAT_COLUMNS = list(STAT_DESCRIPTIONS)
TEST_TYPE, COMPARISON = "test_type", "comparison"
STUDY_COLUMNS = [Col.MODEL, Col.TASK, Col.VARIANT, TEST_TYPE, Col.AMENDMENT_TYPE, *STAT_COLUMNS]
TEMPLATE_COLUMNS = [COMPARISON, *CELL, *STAT_COLUMNS]


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
    return (cells[Stat.B] + cells[Stat.C]) == 0


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
    cell, family = [Col.MODEL, Col.TASK, Col.AMENDMENT_TYPE], [Col.MODEL, Col.TASK]
    for variant in comparisons:
        pairs = _pairs(frame, variant)
        context = pairs[(pairs[Col.PROMPT_TEMPLATE] == "original")]
        belief = pairs[pairs[Col.PROMPT_TEMPLATE].isin(BELIEF_TEMPLATES)]
        for test_type, part in (("context", context), ("belief", belief)):
            if not part.empty:
                cells = _cell_stats(part, cell, family, alpha).assign(
                    **{Col.VARIANT: variant, TEST_TYPE: test_type}
                )
                tables.append(_in_study_order(cells))
    if not tables:
        return pd.DataFrame(columns=STUDY_COLUMNS)
    return pd.concat(tables, ignore_index=True)[STUDY_COLUMNS]


def _in_study_order(cells: pd.DataFrame) -> pd.DataFrame:
    """Per model x task, the amendment types in the study's order (unmodified first)."""
    rank = cells[Col.AMENDMENT_TYPE].map({a: i for i, a in enumerate(AMENDMENT_TYPES)})
    order = cells.assign(_rank=rank.fillna(len(AMENDMENT_TYPES)))
    order = order.sort_values([Col.MODEL, Col.TASK, "_rank", Col.AMENDMENT_TYPE], kind="stable")
    return order.drop(columns="_rank")


def template_cells(frame: pd.DataFrame, comparisons: list[str], alpha: float = 0.05) -> pd.DataFrame:
    """Per comparison and cell: paired error rates, McNemar p, Cohen's g, OR, and BH q within comparison."""
    tables = []
    for comparison in comparisons:
        pairs = _pairs(frame, comparison)
        if not pairs.empty:
            tables.append(_cell_stats(pairs, CELL, [], alpha).assign(**{COMPARISON: comparison}))
    if not tables:
        return pd.DataFrame(columns=TEMPLATE_COLUMNS)
    return pd.concat(tables, ignore_index=True)[TEMPLATE_COLUMNS]


def _pairs(frame: pd.DataFrame, comparison: str) -> pd.DataFrame:
    """One row per paired prompt; a prompt answered twice by one variant keeps its first answer."""
    cols = [*PAIR_KEY, "is_incorrect"]
    base = frame.loc[frame[Col.VARIANT] == BASE_VARIANT, cols].drop_duplicates(PAIR_KEY)
    other = frame.loc[frame[Col.VARIANT] == comparison, cols].drop_duplicates(PAIR_KEY)
    return base.merge(other, on=PAIR_KEY, suffixes=("_o", "_v"))


def _cell_stats(pairs: pd.DataFrame, cell: list[str], family: list[str], alpha: float) -> pd.DataFrame:
    """Per cell (the `cell` columns): every statistic of STAT_COLUMNS, BH within each `family` group.

    `family` empty: one BH family over all the cells.
    """
    yo, yv = pairs["is_incorrect_o"].to_numpy(), pairs["is_incorrect_v"].to_numpy()
    stats = pd.DataFrame(
        {"yo": yo, "yv": yv, "b": (yv > yo).astype(np.int64), "c": (yo > yv).astype(np.int64)},
        index=pairs.index,
    )
    keys = [pairs[k].astype(str) for k in cell]
    agg = stats.groupby(keys, sort=True).agg(
        n=("yo", "size"), eo=("yo", "mean"), ev=("yv", "mean"), b=("b", "sum"), c=("c", "sum")
    )
    out = agg.reset_index()[cell]
    b, c = agg["b"].to_numpy(), agg["c"].to_numpy()
    p = mcnemar_exact(b, c)
    by = [out[k] for k in family] or np.zeros(len(out), dtype=np.int64)  # none: one family
    q = pd.Series(p, index=out.index).groupby(by).transform(lambda g: bh_fdr(g.to_numpy())).to_numpy()
    eo, ev = agg["eo"].to_numpy(), agg["ev"].to_numpy()
    columns = {
        Stat.N_PAIRS: agg["n"].to_numpy(),
        Stat.ERROR_ORIGINAL_PCT: 100 * eo,
        Stat.ERROR_VARIANT_PCT: 100 * ev,
        Stat.ERROR_DIFF_PP: 100 * (ev - eo),
        Stat.B: b,
        Stat.C: c,
        Stat.MCNEMAR_P: p,
        Stat.Q_VALUE: q,
        Stat.SIGNIFICANT: q < alpha,
        Stat.ODDS_RATIO: paired_odds_ratio(b, c),
        Stat.COHENS_G: cohens_g(b, c),
        Stat.G_AUTHORS: g_authors(b, c),
    }
    return out.assign(**columns)
