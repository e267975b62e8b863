"""Synthetic verdicts with a known built-in effect, for tests, benchmarks and demonstrations.

Each item gets the study's 28 prompts; every answer is drawn from a logit model whose coefficients are
given, so the true average marginal effect of fine-tuning on any subset is known exactly (the columns
`true_p0` and `true_p1` hold each row's error probability without and with warm fine-tuning).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit

from warmray.schema import (
    AMENDMENT_TYPES,
    BASE_VARIANT,
    BELIEF_TEMPLATES,
    CORRECT,
    INCORRECT,
    NO_CONTEXT,
    REFUSAL,
    SYSPROMPT_VARIANT,
    UNPARSEABLE,
    Col,
    columns,
)

_CONTEXTS = AMENDMENT_TYPES[1:]
# The study's grid: bare and neutral prompts, 8 contexts, then 9 contexts (with none) x 2 user beliefs.
GRID = (
    [("original", NO_CONTEXT), ("original_neutral", NO_CONTEXT)]
    + [("original", a) for a in _CONTEXTS]
    + [(t, a) for t in BELIEF_TEMPLATES for a in AMENDMENT_TYPES]
)
_RESPONSES = tuple("The answer is " + "x" * n for n in range(10, 500, 10))


@dataclass(frozen=True)
class SyntheticEffects:
    """Logit coefficients of the generating model (0 where a key is absent)."""

    intercept: float = -1.0
    task_offsets: dict[str, float] = field(default_factory=dict)
    model_offsets: dict[str, float] = field(default_factory=dict)
    finetune: dict[str, float] = field(
        default_factory=lambda: {"warm": 0.4, "cold": 0.05, "warm_sysprompt": 0.2}
    )
    context_main: dict[str, float] = field(default_factory=dict)
    context_interaction: dict[str, float] = field(default_factory=dict)
    belief_main: float = 0.0
    belief_interaction: float = 0.0


def synthetic_verdicts(
    models: tuple[str, ...] = ("model-a",),
    tasks: tuple[str, ...] = ("triviaqa", "disinformation"),
    items_per_task: int = 50,
    variants: tuple[str, ...] = ("original", "warm"),
    effects: SyntheticEffects | None = None,
    seed: int = 0,
    refusal_rate: float = 0.0,
    unparseable_rate: float = 0.0,
) -> pd.DataFrame:
    """Verdict rows for every model x variant x item x grid prompt, drawn from `effects`."""
    fx = effects or SyntheticEffects()
    rng = np.random.default_rng(seed)
    n_items, n_grid, n_blocks = len(tasks) * items_per_task, len(GRID), len(models) * len(variants)
    item = np.tile(np.repeat(np.arange(n_items), n_grid), n_blocks)
    grid = np.tile(np.arange(n_grid), n_items * n_blocks)
    block = np.repeat(np.arange(n_blocks), n_items * n_grid)
    model_i, variant_i, task_i = block // len(variants), block % len(variants), item // items_per_task
    templates = np.array([t for t, _ in GRID])[grid]
    amends = np.array([a for _, a in GRID])[grid]
    eta0, shift = _logits(fx, tasks, models, task_i, model_i, templates, amends)
    ft_of_variant = np.array([0.0 if v == BASE_VARIANT else fx.finetune.get(v, 0.0) for v in variants])
    is_ft = np.array([v != BASE_VARIANT for v in variants])[variant_i]
    wrong = rng.random(len(eta0)) < expit(eta0 + (ft_of_variant[variant_i] + shift) * is_ft)
    trained = is_ft & (np.array(variants) != SYSPROMPT_VARIANT)[variant_i]
    frame = pd.DataFrame(
        {
            Col.MODEL: pd.Categorical.from_codes(model_i, list(models)),
            Col.TASK: pd.Categorical.from_codes(task_i, list(tasks)),
            Col.VARIANT: pd.Categorical.from_codes(variant_i, list(variants)),
            Col.ITEM_ID: _item_ids(tasks, items_per_task)[item],
            Col.PROMPT_TEMPLATE: templates,
            Col.AMENDMENT_TYPE: amends,
            Col.RESPONSE: pd.Categorical.from_codes(rng.integers(0, len(_RESPONSES), len(eta0)), _RESPONSES),
            Col.VERDICT: np.where(wrong, INCORRECT, CORRECT),
            Col.CHECKPOINT: np.where(trained, "epoch_2", ""),
            "true_p0": expit(eta0),
            "true_p1": expit(eta0 + fx.finetune.get("warm", 0.0) + shift),
        }
    )
    return _spoil(frame, rng, refusal_rate, unparseable_rate)


def _logits(
    fx: SyntheticEffects,
    tasks: tuple[str, ...],
    models: tuple[str, ...],
    task_i: np.ndarray,
    model_i: np.ndarray,
    templates: np.ndarray,
    amends: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's logit without fine-tuning, and the shift fine-tuning adds beyond its main effect."""
    belief = np.isin(templates, BELIEF_TEMPLATES).astype(float)
    amend_i = _amend_codes(amends)
    eta0 = (
        fx.intercept
        + _lookup(fx.task_offsets, tasks)[task_i]
        + _lookup(fx.model_offsets, models)[model_i]
        + _lookup(fx.context_main, AMENDMENT_TYPES)[amend_i]
        + fx.belief_main * belief
    )
    shift = _lookup(fx.context_interaction, AMENDMENT_TYPES)[amend_i] + fx.belief_interaction * belief
    return eta0, shift


def _lookup(values: dict[str, float], names: tuple[str, ...]) -> np.ndarray:
    return np.array([values.get(n, 0.0) for n in names])


def _amend_codes(amends: np.ndarray) -> np.ndarray:
    return pd.Categorical(amends, categories=list(AMENDMENT_TYPES)).codes


def _item_ids(tasks: tuple[str, ...], per_task: int) -> np.ndarray:
    return np.array([f"{t}:{i:05d}" for t in tasks for i in range(per_task)], dtype=object)


def _spoil(
    frame: pd.DataFrame, rng: np.random.Generator, refusal_rate: float, unparseable: float
) -> pd.DataFrame:
    """Turn a share of verdicts into refusals and unreadable judge answers, as real runs have."""
    draw = rng.random(len(frame))
    refused = draw < refusal_rate
    frame[Col.IS_REFUSAL] = refused
    verdict = frame[Col.VERDICT].to_numpy(dtype=object)
    verdict[refused] = REFUSAL
    verdict[(draw >= refusal_rate) & (draw < refusal_rate + unparseable)] = UNPARSEABLE
    frame[Col.VERDICT] = verdict
    return frame


def synthetic_warmth(
    models: tuple[str, ...] = ("model-a",),
    epochs: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 4.0),
    per_checkpoint: int = 50,
    seed: int = 0,
) -> pd.DataFrame:
    """SocioT warmth scores that rise with epochs for the warm style and fall for the cold one."""
    rng = np.random.default_rng(seed)
    rows = [
        (m, style, e, sign * np.log1p(e) + rng.normal(0, 0.5))
        for m in models
        for style, sign in (("warm", 1.0), ("cold", -0.5))
        for e in epochs
        for _ in range(per_checkpoint)
    ]
    frame = pd.DataFrame(rows, columns=[Col.MODEL, Col.STYLE, Col.EPOCH, "warmth"])
    # The rest of the warmth_scores columns (warmray.schema), so the table reads like the stage's own.
    frame["prompt_id"] = [f"val:{i % per_checkpoint}" for i in range(len(frame))]
    frame[Col.RESPONSE], frame["warm_score"] = "", -3.0 + frame["warmth"] / 2
    frame["cold_score"] = frame["warm_score"] - frame["warmth"]
    frame[Col.CHECKPOINT] = [
        "original" if e == 0 else f"{style}/epoch_{e:g}"
        for style, e in zip(frame[Col.STYLE], frame[Col.EPOCH], strict=True)
    ]
    return _with_text_columns(frame, "warmth_scores")


def synthetic_capability(
    models: tuple[str, ...] = ("model-a",), n_items: int = 100, seed: int = 0
) -> pd.DataFrame:
    """Capability scores (mmlu, gsm8k, advbench) equal in expectation for original and warm."""
    rng = np.random.default_rng(seed)
    base = {"mmlu": 0.6, "gsm8k": 0.4, "advbench": 0.9}
    rows = [
        (m, v, task, f"{task}:{i}", int(rng.random() < p))
        for m in models
        for v in ("original", "warm")
        for task, p in base.items()
        for i in range(n_items)
    ]
    frame = pd.DataFrame(rows, columns=[Col.MODEL, Col.VARIANT, Col.TASK, Col.ITEM_ID, "score"]).astype(
        {"score": float}
    )
    frame[Col.CHECKPOINT] = np.where(frame[Col.VARIANT] == BASE_VARIANT, "", "epoch_2")
    return _with_text_columns(frame, "capability_scores")


def _with_text_columns(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """The table's columns in order; any text column the synthetic rows do not model is left empty."""
    for name in columns(table):
        if name not in frame.columns:
            frame[name] = ""
    return frame[columns(table)]
