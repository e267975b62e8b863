"""The study's four binomial GLMs and their average marginal effects (DESIGN.md point 8).

`is_incorrect ~ finetuned (x factor) + task + model`, logit link; model 4 (fine-tuned x user belief, fitted
on every prompt, with and without a context) also holds the context group as a main effect, as the study's
published model 4 does. Fitted by statsmodels on binomial counts per cell (task x model x factor x
covariates x arm), which gives the same likelihood as one row per answer and makes 500,000 answers a fit
over a few hundred rows. With the response-length covariate the rows cannot be
pooled, and the fit runs on one row per answer.

Each contrast (warm, cold, warm_sysprompt, each against original) is fitted only on the models that have
both arms: a model evaluated only as `original` would otherwise shift the intercept and task effects
without adding anything to the contrast. The table of fits lists the models in each fit.

Effects are average marginal effects by counterfactual prediction: every answer in a subset is predicted
with finetuned=1 and finetuned=0, and the differences averaged. Standard errors come from the delta method
on the fitted covariance, computed here (statsmodels' `get_margeff` does not know interaction terms).
An effect whose every prediction a diverged coefficient pins at 0 or 1 (a level with no errors, say) is
no estimate: its row is NaN with the note "not estimable: <reason>" (`not_estimable`), never an exact 0.

Where the p-values differ from the study's: warmray tests each average marginal effect (in probability
points) with a delta-method z-test. The study's code tests, for its models 2-4, the sum of logit
coefficients (finetuned + finetuned x level) with a Wald test on the log-odds scale. Both test "no
effect of fine-tuning at this level", so they agree on the direction and roughly on significance, but
not digit for digit: the AME depends on the baseline error rate, the logit sum does not.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import norm

from warmray.schema import BASE_VARIANT, NO_BELIEF_TEMPLATES, NO_CONTEXT, Col
from warmray.statistics.design import Layout, level_order

Z95 = float(norm.ppf(0.975))
# |logit coefficient| beyond this means a fitted probability under 1 in 20,000: the likelihood kept
# climbing towards 0 or 1, i.e. (quasi-)separation rather than an estimate.
DIVERGED = 10.0
# A predicted error rate this close to 0 or 1 is a diverged fit's, not an estimate.
PINNED = 1e-4
EFFECT_COLUMNS = (
    "comparison",
    "glm",
    "glm_name",
    "factor",
    "level",
    "n",
    "error_original_pct",
    "error_variant_pct",
    "ame_pp",
    "se_pp",
    "ci_low_pp",
    "ci_high_pp",
    "z",
    "p_value",
    "note",
)


@dataclass(frozen=True)
class GlmSpec:
    """One of the study's models: which rows, and what finetuned interacts with."""

    number: int
    name: str
    rows: str  # "no_context" | "no_belief" | "all"
    factor: str | None = None  # column interacted with finetuned
    reference: str = ""
    covariates: tuple[str, ...] = ()  # further main effects (no interaction with finetuned)


SPECS = (
    GlmSpec(1, "fine-tuned, no context, original prompts", "no_context"),
    GlmSpec(2, "fine-tuned x context group", "no_belief", "context_group", "none"),
    GlmSpec(3, "fine-tuned x specific context", "no_belief", Col.AMENDMENT_TYPE, NO_CONTEXT),
    GlmSpec(4, "fine-tuned x user belief + context group", "all", "belief", "none", ("context_group",)),
)


@dataclass
class GlmOutcome:
    """What happened to one GLM for one comparison: its effects, or why it was skipped."""

    comparison: str
    spec: GlmSpec
    fitted: bool
    n: int
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    effects: pd.DataFrame | None = None
    models: tuple[str, ...] = ()  # the models in the fit: those with both arms

    def summary_row(self) -> dict[str, object]:
        """One row for the table of fits."""
        return {
            "comparison": self.comparison,
            "glm": self.spec.number,
            "glm_name": self.spec.name,
            "fitted": self.fitted,
            "n": self.n,
            "models": ", ".join(self.models),
            "reason": self.reason,
            "notes": " ".join(self.notes),
        }


def fit_all(frame: pd.DataFrame, comparisons: list[str], length_covariate: bool = False) -> list[GlmOutcome]:
    """Fit the four models for every variant compared with `original`."""
    return [fit_one(frame, c, spec, length_covariate) for c in comparisons for spec in SPECS]


def fit_one(frame: pd.DataFrame, comparison: str, spec: GlmSpec, length_covariate: bool) -> GlmOutcome:
    """Fit one model; a model that cannot be fitted comes back skipped with the reason."""
    data = _rows_for(frame, comparison, spec)
    outcome = GlmOutcome(comparison, spec, False, len(data), models=_models(data))
    reason = _why_not_fittable(data, spec)
    if reason:
        outcome.reason = reason
        return outcome
    if spec.factor:
        data = data[data[spec.factor].isin(_shared_levels(data, spec, outcome.notes))]
        outcome.n = len(data)
    cells = _cells(data, spec.factor, length_covariate, spec.covariates)
    layout = Layout.for_cells(cells, spec.factor, spec.reference, length_covariate, spec.covariates)
    try:
        fit = _fit(cells, layout, outcome.notes)
    except Exception as e:  # one model failing must not stop the report, which says why
        outcome.reason = f"the fit failed: {type(e).__name__}: {e}"
        return outcome
    outcome.fitted = True
    outcome.effects = _effects(cells, layout, fit, outcome)
    return outcome


@dataclass(frozen=True)
class _Fit:
    params: np.ndarray
    cov: np.ndarray
    keep: np.ndarray  # design columns used (collinear ones dropped)
    diverged: frozenset[str]  # names of coefficients that ran off to +-infinity


def _rows_for(frame: pd.DataFrame, comparison: str, spec: GlmSpec) -> pd.DataFrame:
    mask = frame[Col.VARIANT].isin([BASE_VARIANT, comparison])
    if spec.rows in ("no_context", "no_belief"):
        mask &= frame[Col.PROMPT_TEMPLATE].isin(NO_BELIEF_TEMPLATES)
    if spec.rows == "no_context":
        mask &= frame[Col.AMENDMENT_TYPE] == NO_CONTEXT
    data = frame.loc[mask, [Col.MODEL, Col.TASK, Col.VARIANT, "context_group", Col.AMENDMENT_TYPE, "belief"]]
    data = data.assign(y=frame.loc[mask, "is_incorrect"], length=frame.loc[mask, "length"])
    data["ft"] = (data[Col.VARIANT] == comparison).to_numpy(dtype=np.int64)
    arms = data.groupby(Col.MODEL, observed=True)["ft"].nunique()
    return data[data[Col.MODEL].isin(arms[arms == 2].index)]


def _models(data: pd.DataFrame) -> tuple[str, ...]:
    return tuple(sorted(str(m) for m in pd.unique(data[Col.MODEL].astype(str))))


def _why_not_fittable(data: pd.DataFrame, spec: GlmSpec) -> str:
    if data.empty:
        return "no rows of a model with both arms match this GLM (" + spec.rows.replace("_", " ") + ")."
    arms = set(data["ft"].unique())
    if arms != {0, 1}:
        side = "fine-tuned" if 0 in arms else "original"
        return f"no {side} rows among the rows this model uses."
    errors = int(data["y"].sum())
    if errors in (0, len(data)):
        kind = "correct" if errors == 0 else "incorrect"
        return f"every answer was {kind}: the logit model is not identified."
    if spec.factor:
        levels = _shared_levels(data, spec, [])
        if len(levels) < 2:
            return f"needs at least two levels of {spec.factor} seen in both arms; found {levels or 'none'}."
    return ""


def _shared_levels(data: pd.DataFrame, spec: GlmSpec, notes: list[str]) -> list[str]:
    """Factor levels present in both arms (a level seen in one arm has no effect to estimate)."""
    seen = data.groupby(spec.factor, observed=True)["ft"].nunique()
    both = [str(v) for v in seen[seen == 2].index]
    one = [str(v) for v in seen[seen < 2].index]
    if one:
        notes.append(f"Level(s) {one} of {spec.factor} appear in one arm only and were left out.")
    return level_order(both, spec.reference)


def _cells(
    data: pd.DataFrame, factor: str | None, length_covariate: bool, covariates: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Binomial counts per covariate pattern; one row per answer when a continuous covariate is on."""
    keys = [Col.TASK, Col.MODEL, "ft"] + ([factor] if factor else []) + list(covariates)
    if length_covariate:
        cells = data[keys].copy()
        cells["k"] = data["y"].to_numpy(dtype=np.float64)
        cells["n"] = 1.0
        sd = float(data["length"].std()) or 1.0
        # Standardised so the design stays well conditioned; the AMEs do not depend on the scale.
        cells["length_z"] = (data["length"] - data["length"].mean()) / sd
        return cells.reset_index(drop=True)
    grouped = data.groupby(keys, observed=True)["y"].agg(["sum", "size"]).reset_index()
    return grouped.rename(columns={"sum": "k", "size": "n"}).astype({"k": float, "n": float})


def _fit(cells: pd.DataFrame, layout: Layout, notes: list[str]) -> _Fit:
    """Fit the logit GLM on counts, noting dropped columns, separation and convergence trouble."""
    import statsmodels.api as sm  # on first fit: the package's lighter users (audit, sweep) skip its import

    x = layout.matrix(cells, cells["ft"].to_numpy())
    keep = _independent_columns(x)
    dropped = [n for n, k in zip(layout.names, keep, strict=True) if not k]
    if dropped:
        notes.append(f"Collinear term(s) {dropped} dropped (confounded with others in this data).")
    endog = np.column_stack([cells["k"], cells["n"] - cells["k"]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = sm.GLM(endog, x[:, keep], family=sm.families.Binomial()).fit()
    params, cov = np.asarray(res.params), np.asarray(res.cov_params())
    names = [n for n, k in zip(layout.names, keep, strict=True) if k]
    diverged = [n for n, b in zip(names, params, strict=True) if abs(b) > DIVERGED]
    if diverged:
        notes.append(
            f"Separation: coefficient(s) {diverged} diverged (a cell with no errors or only errors); "
            "effects that lean on them are unreliable."
        )
    if not getattr(res, "converged", True) or any("converge" in str(w.message) for w in caught):
        notes.append("The fit did not fully converge.")
    return _Fit(params, cov, keep, frozenset(diverged))


def _independent_columns(x: np.ndarray) -> np.ndarray:
    """Greedy choice of linearly independent columns, earlier (finetuned) terms first."""
    gram = x.T @ x
    keep = np.zeros(x.shape[1], dtype=bool)
    rank = 0
    for j in range(x.shape[1]):
        keep[j] = True
        sub = gram[np.ix_(keep, keep)]
        new_rank = np.linalg.matrix_rank(sub, tol=1e-9 * max(1.0, float(np.abs(sub).max())))
        if new_rank > rank:
            rank = new_rank
        else:
            keep[j] = False
    return keep


def _effects(cells: pd.DataFrame, layout: Layout, fit: _Fit, out: GlmOutcome) -> pd.DataFrame:
    spec = out.spec
    subsets = [("all", np.ones(len(cells), dtype=bool))]
    if spec.factor:
        values = cells[spec.factor].astype(str).to_numpy()
        subsets += [(lev, values == lev) for lev in layout.levels]
    ft_terms = {n for n in layout.names if n.startswith("finetuned")}
    names = [n for n, k in zip(layout.names, fit.keep, strict=True) if k]
    rows = []
    for level, mask in subsets:
        sub = cells[mask]
        ame, se = average_marginal_effect(sub, layout, fit.keep, fit.params, fit.cov)
        own = ft_terms if level == "all" else {"finetuned", f"finetuned:{spec.factor}[T.{level}]"}
        separated = bool(own & fit.diverged)
        # A diverged fine-tuning coefficient makes the delta-method SE ~0: an artefact, not precision.
        row = _effect_row(out, level, sub, ame, float("nan") if separated else se, separated)
        if not separated and (why := not_estimable(sub, layout, fit, names, se)):
            row.update(ame_pp=float("nan"), se_pp=float("nan"), ci_low_pp=float("nan"))
            row.update(ci_high_pp=float("nan"), z=float("nan"), p_value=float("nan"))
            row["note"] = f"not estimable: {why}"
        rows.append(row)
    return pd.DataFrame(rows, columns=list(EFFECT_COLUMNS))


def not_estimable(sub: pd.DataFrame, layout: Layout, fit: _Fit, names: list[str], se: float) -> str:
    """Why an effect is an artefact of a degenerate fit rather than an estimate; "" when it is an estimate.

    When a coefficient ran off towards infinity (a diverged intercept or level effect: a cell with no
    errors or only errors) and pins every prediction of the subset, in both arms, at an error rate of 0 or
    1, the effect and its delta-method standard error collapse to an exact zero that is no finding. A
    subset only partly pinned (the 'all' level beside one degenerate level) keeps its estimate. The reason
    names what in the data made it so.
    """
    if not fit.diverged:
        return ""
    x1 = layout.matrix(sub, np.ones(len(sub)))[:, fit.keep]
    x0 = layout.matrix(sub, np.zeros(len(sub)))[:, fit.keep]
    p = np.concatenate([expit(x1 @ fit.params), expit(x0 @ fit.params)])
    pinned = bool(np.all(np.minimum(p, 1 - p) < PINNED))
    collapsed = bool(np.isfinite(se) and se < PINNED**2)
    if not (pinned or collapsed):
        return ""
    used = np.abs(x1).sum(axis=0) + np.abs(x0).sum(axis=0) > 0
    leaning = sorted({n for n, on in zip(names, used, strict=True) if on} & fit.diverged)
    errors, total = float(sub["k"].sum()), float(sub["n"].sum())
    if errors == 0:
        data = "no answer was wrong in either arm here"
    elif errors == total:
        data = "every answer was wrong in both arms here"
    else:
        data = "a cell with no errors or only errors (perfect separation)"
    return (
        f"{data}, so the fit diverged (coefficient(s) {leaning or sorted(fit.diverged)} ran off to infinity)"
    )


def average_marginal_effect(
    cells: pd.DataFrame, layout: Layout, keep: np.ndarray, params: np.ndarray, cov: np.ndarray
) -> tuple[float, float]:
    """AME of finetuned over `cells` (weighted by answers) and its delta-method standard error."""
    w = cells["n"].to_numpy()
    x1 = layout.matrix(cells, np.ones(len(cells)))[:, keep]
    x0 = layout.matrix(cells, np.zeros(len(cells)))[:, keep]
    p1, p0 = expit(x1 @ params), expit(x0 @ params)
    total = w.sum()
    ame = float(w @ (p1 - p0) / total)
    grad = ((w * p1 * (1 - p1)) @ x1 - (w * p0 * (1 - p0)) @ x0) / total
    var = float(grad @ cov @ grad)
    return ame, float(np.sqrt(var)) if np.isfinite(var) and var >= 0 else float("nan")


def _effect_row(
    out: GlmOutcome, level: str, sub: pd.DataFrame, ame: float, se: float, separated: bool
) -> dict[str, object]:
    ft = sub["ft"].to_numpy() == 1
    z = ame / se if se and np.isfinite(se) else float("nan")
    p = float(2 * norm.sf(abs(z))) if np.isfinite(z) else float("nan")
    note = ""
    if separated:
        note = "separation (one arm all correct or all wrong): no standard error"
    elif not np.isfinite(se):
        note = "standard error not estimable"
    return {
        "comparison": out.comparison,
        "glm": out.spec.number,
        "glm_name": out.spec.name,
        "factor": out.spec.factor or "finetuned",
        "level": level,
        "n": int(sub["n"].sum()),
        "error_original_pct": 100 * _rate(sub[~ft]),
        "error_variant_pct": 100 * _rate(sub[ft]),
        "ame_pp": 100 * ame,
        "se_pp": 100 * se,
        "ci_low_pp": 100 * (ame - Z95 * se),
        "ci_high_pp": 100 * (ame + Z95 * se),
        "z": z,
        "p_value": p,
        "note": note,
    }


def _rate(cells: pd.DataFrame) -> float:
    n = cells["n"].sum()
    return float(cells["k"].sum() / n) if n else float("nan")
