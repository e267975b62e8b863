"""The `generate` stage: every grid prompt answered by every variant of every model.

Variants: `original` (base model), `warm` / `cold` (the LoRA adapter at train.eval_epoch) and
`warm_sysprompt` (base model + the warm system prompt). One vLLM engine per model serves the base and
all its adapters, chosen per row (no merged copies). Output: responses/<model>.parquet, one row per
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
from warmray.config import ModelConfig
from warmray.prompt_files import read_prompt
from warmray.rundir import table_path
from warmray.schema import write_table
from warmray.stage import StageContext, StageError
from warmray.stages.generate import parity

log = logging.getLogger(__name__)

FINE_TUNED = {"warm": "warm", "cold": "cold"}  # variant -> training style


def variant_requests(
    prompts: pd.DataFrame, model: ModelConfig, variant: str, adapter: str, system_prompt: str
) -> pd.DataFrame:
    """Requests of one variant of one model: the prompts plus messages, adapter and ids."""
    rows = prompts.copy()
    rows["model"], rows["variant"], rows["adapter"] = model.name, variant, adapter
    rows["checkpoint"] = Path(adapter).name if adapter else ""
    rows["system_prompt"] = system_prompt
    rows["response_id"] = model.name + "|" + variant + "|" + rows["prompt_id"]
    head = [{"role": "system", "content": system_prompt}] if system_prompt else []
    rows["messages"] = [head + [{"role": "user", "content": p}] for p in rows["prompt"]]
    return rows


def model_requests(ctx: StageContext, model: ModelConfig, prompts: pd.DataFrame) -> pd.DataFrame:
    """All variants' requests for one model."""
    variants = ctx.config.generate.variants
    parts = []
    for variant in variants:
        # A model given with its own adapter (a shipped fine-tune) is that adapter on every other variant.
        adapter, system = (str(Path(model.adapter).expanduser().resolve()) if model.adapter else ""), ""
        if variant in FINE_TUNED:
            ctx.input_dir("train")
            path = ctx.rundir.adapter(model.name, FINE_TUNED[variant], ctx.config.train.eval_epoch)
            if not (path / "adapter_config.json").is_file():
                raise StageError(
                    f"variant {variant!r} needs the adapter {path}, which is gone although the train stage "
                    "finished; train it again: `warmray train CONFIG --force` (or restore the folder)."
                )
            adapter = str(path.resolve())
        elif variant == "warm_sysprompt":
            system = read_prompt(ctx.config.warm_system_prompt)
        parts.append(variant_requests(prompts, model, variant, adapter, system))
    return pd.concat(parts, ignore_index=True)


def _answer(requests: pd.DataFrame, ctx: StageContext, model: ModelConfig, raw: Path) -> pd.DataFrame:
    """Every request of one model answered by its engine (base and adapters in one), resumably."""
    cfg = ctx.config.generate
    label, lora_r = f"generate {model.name}", ctx.config.train.lora_r
    return infer.answer_responses(requests, raw, model, cfg.engine, cfg.sampling, label=label, lora_r=lora_r)


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
        requests = model_requests(ctx, model, prompts)
        checked += parity.check_model(ctx, model, requests, out)
        done = _answer(requests, ctx, model, out / ".raw" / model.name)
        write_table(done.rename(columns={"generated_text": "response"}), final, "responses")
        counts[model.name] = len(done)
        errors = int((done["inference_error"] != "").sum())
        if errors:
            log.warning(
                "generate: %d of %d %s rows failed in the engine (kept, empty)", errors, len(done), model.name
            )
    counts["responses"] = sum(counts.values())
    counts["parity_adapters"] = checked  # their figures: parity.json
    return counts
