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

from warmray import infer
from warmray.arms import arm_requests, max_lora_rank, stage_arms
from warmray.config import ModelConfig
from warmray.rundir import table_path
from warmray.schema import Col, write_table
from warmray.stage import StageContext
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
    """Answer the grid with every variant of every model; resumable per row."""
    prompts = ctx.read("grid", "prompts")
    counts: dict[str, Any] = {}
    checked = 0
    folder = table_path(out, "generate", "responses")
    folder.mkdir(exist_ok=True)
    for model in ctx.config.models:
        final = folder / f"{model.name}.parquet"
        if final.is_file():
            counts[model.name] = len(pd.read_parquet(final, columns=["response_id"]))
            continue
        model_arms = stage_arms(ctx, "generate", model)
        requests = arm_requests(model_arms, prompts)
        rank = max_lora_rank(model_arms)
        checked += parity.check_model(ctx, model, requests, rank, out)
        done = _answer(requests, ctx, model, rank, out / ".raw" / model.name)
        write_table(done.rename(columns={"generated_text": Col.RESPONSE}), final, "responses")
        counts[model.name] = len(done)
        errors = int((done["inference_error"] != "").sum())
        if errors:
            log.warning(
                "generate: %d of %d %s rows failed in the engine (kept, empty)", errors, len(done), model.name
            )
    counts["responses"] = sum(counts.values())
    counts["parity_adapters"] = checked  # their figures: parity.json
    return counts
