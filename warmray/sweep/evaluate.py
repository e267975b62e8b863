"""One variant scored on the sweep's fixed slice: error and sycophancy rates, and SocioT warmth.

The pipeline's own pieces do the work: generate's arms and the one request builder (warmray.arms) for
the grid slice and the held-out prompts, `warmray.infer.answer_responses` (one engine for both, the
model's own engine settings, the adapter chosen per row), warmray.grading's `grade` (as the judge
stage) and the warmth stage's SocioT scorer. Both slices are answered with `generate.sampling`. Every
intermediate table is kept in the evaluation folder, resumable per row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import ray

from warmray import infer, resumable
from warmray.arms import Arm, arm_requests, max_lora_rank, stage_arms
from warmray.grading import grade
from warmray.schema import INCORRECT, Col
from warmray.sociot import SCORE_COLUMNS, score_dataset
from warmray.stage import StageContext
from warmray.statistics import Z95, prepare, wilson_interval
from warmray.sweep.space import swept_model

_ENGINE_COLUMNS = ["response_id", "messages", "adapter"]


def rate(flags: pd.Series) -> dict[str, float]:
    """A proportion with its 95% Wilson interval."""
    k, n = int(flags.sum()), len(flags)
    low, high = wilson_interval(np.array([k]), np.array([n]))
    return {"rate": k / n if n else float("nan"), "low": float(low[0]), "high": float(high[0]), "n": n}


def mean_ci(values: pd.Series) -> dict[str, float]:
    """A mean with its normal 95% interval."""
    half = Z95 * values.std(ddof=1) / np.sqrt(len(values)) if len(values) > 1 else float("nan")
    return {
        "mean": float(values.mean()),
        "low": float(values.mean() - half),
        "high": float(values.mean() + half),
    }


def reliability(verdicts: pd.DataFrame) -> dict[str, float]:
    """Error rate and sycophancy rate (errors when the user states a wrong belief), study's refusal rules."""
    frame = prepare(verdicts).frame
    error = rate(frame[Col.VERDICT] == INCORRECT)
    syco = rate(frame.loc[frame[Col.PROMPT_TEMPLATE] == "incorrect", Col.VERDICT] == INCORRECT)
    return {
        "error_rate": error["rate"],
        "error_low": error["low"],
        "error_high": error["high"],
        "n_graded": error["n"],
        "sycophancy_rate": syco["rate"],
        "sycophancy_low": syco["low"],
        "sycophancy_high": syco["high"],
        "n_wrong_belief": syco["n"],
    }


def _requests(ctx: StageContext, arms: list[Arm]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The grid slice and the held-out prompts, each asked of every arm."""
    grid = arm_requests(arms, ctx.read("grid", "prompts"))
    val = arm_requests(arms, ctx.read("corpus", "val_prompts").head(ctx.config.sweep.val_prompts))
    val["response_id"] = "val|" + val["response_id"]  # apart from grid ids in the shared engine call
    return grid, val


def _warmth(ctx: StageContext, answers: pd.DataFrame, folder: Path) -> pd.DataFrame:
    texts = answers.loc[answers["inference_error"] == "", ["response_id", "generated_text"]]
    texts = texts.rename(columns={"generated_text": "text"})
    todo = resumable.remaining(texts, "response_id", folder)
    if len(todo):
        score_dataset(ray.data.from_pandas(todo), ctx.config.warmth).write_parquet(str(folder))
    return resumable.collect(folder, "response_id", texts["response_id"])[["response_id", *SCORE_COLUMNS]]


def evaluate(ctx: StageContext, folder: Path) -> dict[str, Any]:
    """Answer, grade and score the slice with the swept model's generate arms; returns the trial metrics.

    A trial's config asks for the warm variant at its checkpoint epoch, the original model's for the
    variant `original` (warmray.sweep.space).

    Args:
        ctx: the trial's config and run directory (grid and corpus committed there, train when tuned).
        folder: where the answers, verdicts and warmth scores are kept.
    """
    model = swept_model(ctx.config)
    arms = stage_arms(ctx, "generate", model)
    grid, val = _requests(ctx, arms)
    both = pd.concat([grid[_ENGINE_COLUMNS], val[_ENGINE_COLUMNS]], ignore_index=True)
    engine, sampling, rank = ctx.config.generate.engine, ctx.config.generate.sampling, max_lora_rank(arms)
    answers = infer.answer_responses(
        both, folder / "answers", model, engine, sampling, label="sweep", lora_rank=rank
    ).set_index("response_id")
    responses = grid.drop(columns=["messages", "adapter"]).copy()
    for col in ("generated_text", "num_input_tokens", "num_generated_tokens", "inference_error"):
        responses[col] = responses["response_id"].map(answers[col]).to_numpy()
    responses = responses.rename(columns={"generated_text": Col.RESPONSE})
    verdicts = grade(responses, ctx.config.judge, folder / "judge").verdicts
    verdicts.to_parquet(folder / "verdicts.parquet", index=False)
    scored = _warmth(ctx, answers.loc[val["response_id"]].reset_index(), folder / "warmth")
    scored.to_parquet(folder / "warmth.parquet", index=False)
    warmth = mean_ci(scored["warmth"])
    return {
        **reliability(verdicts),
        "warmth": warmth["mean"],
        "warmth_low": warmth["low"],
        "warmth_high": warmth["high"],
        "n_warmth": len(scored),
    }
