"""The `generate` stage: every grid prompt answered by every variant of every model.

Variants: `original` (the model as configured: base, or base + its own `adapter`), `warm` / `cold` (the
LoRA adapter trained at the eval epoch) and `warm_sysprompt` (the model as configured + the warm system
prompt): the arms of warmray.arms. One vLLM engine per model serves the base and all its adapters,
chosen per row (no merged copies). Output: responses/<model>.parquet, one row per
(model, variant, prompt) with the columns of the `responses` table (warmray.schema).
Before a model's adapters answer, `parity.check_model` compares vLLM-with-LoRA with PEFT on a few
prompts and stops the stage on a mismatch; its figures go to parity.json in the stage folder.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from warmray import infer, resumable
from warmray.arms import arm_requests, max_lora_rank, stage_arms
from warmray.config import ModelConfig
from warmray.rundir import table_path
from warmray.schema import Col, columns, read_table, write_table
from warmray.stage import FAILED_REQUESTS, StageContext
from warmray.stages.generate import parity

log = logging.getLogger(__name__)


def _answer(
    requests: pd.DataFrame, ctx: StageContext, model: ModelConfig, rank: int | None, raw: Path
) -> pd.DataFrame:
    """Every request of one model answered by its engine (base and adapters in one), resumably."""
    cfg = ctx.config.generate
    label = f"generate {model.name}"
    return infer.answer_responses(requests, raw, model, cfg.engine, cfg.sampling, label=label, lora_rank=rank)


def run(ctx: StageContext, out: Path) -> dict[str, Any]:
    """Answer the grid with every variant of every model; resumable per row.

    A model's finished file that holds failed endpoint requests (a retried stage: warmray.stage) keeps
    its other rows; only the failed requests are asked again.
    """
    prompts = ctx.read("grid", "prompts")
    counts: dict[str, Any] = {}
    failed = 0
    folder = table_path(out, "generate", "responses")
    folder.mkdir(exist_ok=True)
    for model in ctx.config.models:
        final = folder / f"{model.name}.parquet"
        before = read_table(final, "responses") if final.is_file() else None
        if before is not None and not infer.failures.is_failed(before["inference_error"]).any():
            counts[model.name] = len(before)
            continue
        model_arms = stage_arms(ctx, "generate", model)
        requests = arm_requests(model_arms, prompts)
        rank = max_lora_rank(model_arms)
        parity.check_model(ctx, model, requests, rank, out)
        kept = before[~infer.failures.is_failed(before["inference_error"])] if before is not None else None
        todo = requests if kept is None else requests[~requests["response_id"].isin(kept["response_id"])]
        done = _answer(todo, ctx, model, rank, out / ".raw" / model.name)
        done = done.rename(columns={"generated_text": Col.RESPONSE})[columns("responses")]
        if kept is not None:  # every row again in request order
            done = resumable.merged(kept, done, "response_id", requests["response_id"])
        write_table(done, final, "responses")
        counts[model.name] = len(done)
        failed += int(infer.failures.is_failed(done["inference_error"]).sum())
        errors = int((done["inference_error"] != "").sum())
        if errors:
            log.warning(
                "generate: %d of %d %s rows failed in the engine (kept, empty)", errors, len(done), model.name
            )
    counts["responses"] = sum(counts.values())
    counts["parity_adapters"] = parity.checked_adapters(out)  # their figures: parity.json
    if failed:
        counts[FAILED_REQUESTS] = failed
    return counts
