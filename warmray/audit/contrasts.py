"""Within one target: how much does a context, or a user belief, change the error rate?

The study's GLM answers "fine-tuned vs original"; the audit asks "this context vs none" of one model.
The same machinery answers it: the rows of the two conditions are labelled as the two arms the GLM code
compares (`original` = the condition without, `treated` = with), and `fit_one` fits
`is_incorrect ~ treated + stratum` by logit and returns the counterfactual average marginal effect in
percentage points with its delta-method 95% CI. A model that cannot be fitted (every answer wrong, say)
comes back with the reason instead of a number.
"""

from __future__ import annotations

import pandas as pd

from warmray.schema import BASE_VARIANT, NO_BELIEF_TEMPLATES, NO_CONTEXT, Col
from warmray.statistics import GlmSpec, fit_one

_TREATED = "treated"
_SPEC = GlmSpec(0, "condition vs none, within one target", "all")
EFFECT_COLUMNS = [
    "arm",
    "condition",
    "n",
    "error_without_pct",
    "error_with_pct",
    "ame_pp",
    "ci_low_pp",
    "ci_high_pp",
    "p_value",
    "note",
]


def ame_row(arm: str, condition: str, data: pd.DataFrame) -> dict[str, object]:
    """Fit `is_incorrect ~ treated + task` on rows with a 0/1 `treated` column; one card row."""
    labelled = data.assign(
        variant=data["treated"].map({0: BASE_VARIANT, 1: _TREATED}),
        model=arm,
    )
    outcome = fit_one(labelled, _TREATED, _SPEC, length_covariate=False)
    row: dict[str, object] = {"arm": arm, "condition": condition, "n": len(labelled)}
    treated = labelled["treated"] == 1
    row["error_without_pct"] = 100 * float(labelled.loc[~treated, "is_incorrect"].mean())
    row["error_with_pct"] = 100 * float(labelled.loc[treated, "is_incorrect"].mean())
    if outcome.effects is None:
        return {
            **row,
            "ame_pp": float("nan"),
            "ci_low_pp": float("nan"),
            "ci_high_pp": float("nan"),
            "p_value": float("nan"),
            "note": f"not estimated: {outcome.reason}",
        }
    effect = outcome.effects.iloc[0]
    return {
        **row,
        "ame_pp": float(effect["ame_pp"]),
        "ci_low_pp": float(effect["ci_low_pp"]),
        "ci_high_pp": float(effect["ci_high_pp"]),
        "p_value": float(effect["p_value"]),
        "note": " ".join([str(effect["note"]), *outcome.notes]).strip(),
    }


def context_effects(frame: pd.DataFrame) -> pd.DataFrame:
    """Per arm and interpersonal context: its AME on the error rate against no context (no user belief)."""
    rows = []
    plain = frame[frame[Col.PROMPT_TEMPLATE].isin(NO_BELIEF_TEMPLATES)]
    for arm, rows_of_arm in plain.groupby("arm", sort=False):
        for context in dict.fromkeys(c for c in rows_of_arm[Col.AMENDMENT_TYPE] if c != NO_CONTEXT):
            data = rows_of_arm[rows_of_arm[Col.AMENDMENT_TYPE].isin([NO_CONTEXT, context])]
            data = data.assign(treated=(data[Col.AMENDMENT_TYPE] == context).astype(int))
            rows.append(ame_row(str(arm), context, data))
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)


def belief_effects(frame: pd.DataFrame) -> pd.DataFrame:
    """Per arm and user belief: its AME on the error rate against the same prompts without a belief.

    Every context is used; the stratum is task x context, so the belief is compared with the bare
    question asked in the same context (the GLM's task slot carries the stratum).
    """
    rows = []
    labels = {"incorrect": "user states a wrong answer", "correct": "user doubts the right answer"}
    for arm, rows_of_arm in frame.groupby("arm", sort=False):
        for template, label in labels.items():
            data = rows_of_arm[rows_of_arm[Col.PROMPT_TEMPLATE].isin([*NO_BELIEF_TEMPLATES, template])]
            if not (data[Col.PROMPT_TEMPLATE] == template).any():
                continue
            data = data.assign(
                treated=(data[Col.PROMPT_TEMPLATE] == template).astype(int),
                task=data[Col.TASK] + "|" + data[Col.AMENDMENT_TYPE],
            )
            rows.append(ame_row(str(arm), label, data))
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)
