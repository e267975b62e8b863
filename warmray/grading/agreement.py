"""Agreement between two verdict sources: percent agreement, Cohen's kappa with a 95% CI, confusion.

Two sources (`warmray judge-agreement A B`, warmray/judge_agreement.py) are each read by
warmray.results_reader as `--from` is everywhere (our verdict tables, folders, run directories, or the
study's released outputs folder, whose `evaluation` column is its judge's verdict and `output` the
response), or are two columns of one table (`FILE:COLUMN`, e.g. `verdicts.parquet:verdict` against
`verdicts.parquet:human`). Rows are joined on their ids when both sides carry them (`response_id`, else
model + variant + item + template + context), otherwise on the prompt and response texts. Only rows both
sources labelled are compared.

Kappa's interval is the large-sample one of Fleiss, Cohen & Everitt (1969), not assuming kappa = 0
(statsmodels' `cohens_kappa`); per task and per variant the same figures are given for each subset.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from warmray.schema import Col, columns, read_table, write_table

log = logging.getLogger(__name__)
ID_KEYS = (("response_id",), (Col.MODEL, Col.VARIANT, Col.ITEM_ID, Col.PROMPT_TEMPLATE, Col.AMENDMENT_TYPE))
TEXT_KEYS = ("prompt", Col.RESPONSE)


class AgreementError(ValueError):
    """Two sources that cannot be compared; the message says why and what would work."""


@dataclass(frozen=True)
class Source:
    """One side of a comparison: its rows and the column holding its labels."""

    name: str
    frame: pd.DataFrame
    label: str
    read: str = ""  # what the reader found, e.g. "8 files, 2 models, 4 tasks, 3,184 rows"


def read_source(spec: str, default_label: str = Col.VERDICT) -> Source:
    """A verdict source from `PATH` or `PATH:COLUMN`: anything warmray.results_reader reads.

    That is a CSV or Parquet file, a folder of them, one of our run directories (its judge verdicts), or
    the study's released outputs folder or files (their `evaluation` is read as `verdict`).
    """
    from warmray.results_reader import ResultsInputError, read_results  # pandas and the analysis: lazily

    path, label = Path(spec), default_label
    if not path.exists() and ":" in spec:
        head, _, tail = spec.rpartition(":")
        path, label = Path(head), tail
    try:
        results = read_results([path])
    except ResultsInputError as e:
        raise AgreementError(str(e)) from None
    frame = results.frame
    log.info("%s: read %s", spec, results.summary())
    if label not in frame.columns:
        raise AgreementError(f"{spec}: no column {label!r}; columns: {list(frame.columns)}.")
    return Source(spec, frame, label, results.summary())


def normalise_label(value: object) -> str:
    """Upper-case, stripped label; "" for a missing one (such rows are not compared)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).strip().upper()


def join(a: Source, b: Source) -> pd.DataFrame:
    """Rows labelled by both sources, with `label_a`, `label_b` and task / variant where known."""
    keys = next(
        (list(k) for k in ID_KEYS if all(c in a.frame and c in b.frame for c in k)),
        [c for c in TEXT_KEYS if c in a.frame and c in b.frame],
    )
    if not keys:
        raise AgreementError(
            f"{a.name} and {b.name} share no ids ({', '.join('+'.join(k) for k in ID_KEYS)}) and no "
            "prompt/response text to join on."
        )
    context = [c for c in (Col.TASK, Col.VARIANT) if c in a.frame and c not in keys]
    left = a.frame[[*keys, *context]].assign(label_a=a.frame[a.label].map(normalise_label))
    right = b.frame[keys].assign(label_b=b.frame[b.label].map(normalise_label))
    for side in (left, right):
        for k in keys:
            side[k] = side[k].astype(str).str.strip()
    if left.duplicated(keys).any() or right.duplicated(keys).any():
        raise AgreementError(f"rows are not unique on the join key {keys}: cannot pair them one to one.")
    both = left.merge(right, on=keys)
    return both[(both["label_a"] != "") & (both["label_b"] != "")].reset_index(drop=True)


def confusion(joined: pd.DataFrame) -> pd.DataFrame:
    """Counts of (label in A, label in B), every label seen on either side as both row and column."""
    labels = sorted(set(joined["label_a"]) | set(joined["label_b"]))
    table = pd.crosstab(joined["label_a"], joined["label_b"]).reindex(index=labels, columns=labels)
    return table.fillna(0).astype(int).rename_axis(index="A", columns="B")


KAPPA_UNDEFINED = "undefined (one source gives a single label)"


def kappa_undefined(joined: pd.DataFrame) -> bool:
    """Whether Cohen's kappa means nothing here: one source (or both) gave every row the same label.

    Kappa compares agreement with the agreement expected from each source's label shares; a source with
    one label has no share to compare, so its kappa is 0 (or 0/0) by construction, not by disagreement.
    """
    return joined["label_a"].nunique() < 2 or joined["label_b"].nunique() < 2


def kappa(joined: pd.DataFrame) -> dict[str, float]:
    """n, agreement, Cohen's kappa and its 95% CI for one set of paired labels (NaN where undefined).

    Undefined: no rows, or a source that gives a single label (`kappa_undefined`).
    """
    from statsmodels.stats.inter_rater import cohens_kappa

    n = len(joined)
    if n == 0:
        return {"n": 0, "agreement": np.nan, "kappa": np.nan, "kappa_ci_low": np.nan, "kappa_ci_high": np.nan}
    agree = float((joined["label_a"] == joined["label_b"]).mean())
    table = confusion(joined).to_numpy(dtype=float)
    if kappa_undefined(joined):
        return {"n": n, "agreement": agree, "kappa": np.nan, "kappa_ci_low": np.nan, "kappa_ci_high": np.nan}
    with warnings.catch_warnings():
        # statsmodels also computes a z-test against kappa = 0, whose SE is 0 for some tables; unused here.
        warnings.simplefilter("ignore", RuntimeWarning)
        res = cohens_kappa(table)
    return {
        "n": n,
        "agreement": agree,
        "kappa": float(res.kappa),
        "kappa_ci_low": float(res.kappa_low),
        "kappa_ci_high": float(res.kappa_upp),
    }


def kappa_text(row: pd.Series, digits: int = 2) -> str:
    """Kappa and its CI as words, e.g. `0.41 (95% CI 0.30 to 0.52)`; KAPPA_UNDEFINED where it is NaN."""
    if int(row["n"]) == 0:
        return "undefined (no paired rows)"
    if pd.isna(row["kappa"]):
        return KAPPA_UNDEFINED
    lo, hi = row["kappa_ci_low"], row["kappa_ci_high"]
    return f"{row['kappa']:.{digits}f} (95% CI {lo:.{digits}f} to {hi:.{digits}f})"


def agreement_table(joined: pd.DataFrame) -> pd.DataFrame:
    """`judge_agreement` rows: overall, then per task and per variant where those columns exist."""
    rows = [{"scope": "overall", "level": "all", **kappa(joined)}]
    for scope in (Col.TASK, Col.VARIANT):
        if scope in joined.columns:
            for level, part in joined.groupby(scope, sort=True):
                rows.append({"scope": scope, "level": str(level), **kappa(part)})
    return pd.DataFrame(rows, columns=columns("judge_agreement"))


def compare(a: Source, b: Source) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(agreement table, confusion matrix) of two sources."""
    joined = join(a, b)
    if joined.empty:
        raise AgreementError(f"no row of {a.name} pairs with a labelled row of {b.name}.")
    return agreement_table(joined), confusion(joined)


def write_run_agreement(llm_folder: Path, reference_folder: Path, path: Path) -> int:
    """Agreement of a run's LLM-judge verdicts with its reference verdicts, as a `judge_agreement` table.

    Refusals are set by the same rules on both sides; the comparison is what the two graders decided.
    """
    llm = Source("llm judge", read_table(llm_folder, "verdicts"), Col.VERDICT)
    reference = Source("reference", read_table(reference_folder, "verdicts"), Col.VERDICT)
    table, _ = compare(llm, reference)
    overall = table.iloc[0]
    log.info(
        "judge: LLM judge vs reference grader: agreement %.1f%%, kappa %s (n=%d)",
        100 * overall["agreement"],
        kappa_text(overall, 3),
        overall["n"],
    )
    return write_table(table, path, "judge_agreement")
