"""The warmth curve: how warm each checkpoint sounds, by SocioT (the study's Figure 1).

The held-out prompts (corpus `val_prompts`) are answered by the original model and by every checkpoint
of every trained style (one vLLM engine per model, the adapters chosen per row), and every response is
scored by SocioT on Ray Data actors (warmray.sociot.scoring). Output: `warmth/scores.parquet`
(one row per model x style x epoch x prompt; the original model is epoch 0 of every style's curve) and
`warmth/by_epoch.parquet` (mean, SD and 95% CI per model, style and epoch). Both the answers and the
scores are resumable per row.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import ray

from warmray import infer, resumable
from warmray.config import ModelConfig
from warmray.rundir import epoch_label, table_path
from warmray.schema import columns, write_table
from warmray.sociot import SCORE_COLUMNS, score_dataset
from warmray.stage import StageContext, StageError
from warmray.statistics import warmth_table

log = logging.getLogger(__name__)

ORIGINAL = "original"  # the checkpoint name of the base model's answers


def checkpoint_requests(
    prompts: pd.DataFrame, model: str, checkpoints: list[tuple[str, float, str]]
) -> pd.DataFrame:
    """One request per (checkpoint, prompt); a checkpoint is (style or "", epoch, adapter folder or "")."""
    parts = []
    for style, epoch, adapter in checkpoints:
        name = f"{style}/{epoch_label(epoch)}" if style else ORIGINAL
        part = prompts[["prompt_id", "prompt"]].copy()
        part["model"], part["style"], part["epoch"] = model, style, float(epoch)
        part["checkpoint"], part["adapter"] = name, adapter
        part["response_id"] = f"{model}|{name}|" + part["prompt_id"]
        part["messages"] = [[{"role": "user", "content": p}] for p in part["prompt"]]
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def score_rows(answers: pd.DataFrame, styles: tuple[str, ...]) -> pd.DataFrame:
    """Scored answers as `warmth_scores` rows: the original model's copied into every style at epoch 0."""
    tuned = answers[answers["style"] != ""]
    base = answers[answers["style"] == ""]
    rows = [tuned, *(base.assign(style=s, epoch=0.0) for s in styles)]
    return pd.concat(rows, ignore_index=True)


def _checkpoints(ctx: StageContext, model: ModelConfig) -> list[tuple[str, float, str]]:
    epochs = ctx.config.warmth.epochs or ctx.config.train.checkpoint_epochs
    found: list[tuple[str, float, str]] = [("", 0.0, "")]
    for style in ctx.config.train.styles:
        for epoch in epochs:
            path = ctx.rundir.adapter(model.name, style, epoch)
            if not (path / "adapter_config.json").is_file():
                raise StageError(f"warmth needs the adapter {path} (train.checkpoint_epochs): train it.")
            found.append((style, float(epoch), str(path.resolve())))
    return found


def _answer(ctx: StageContext, model: ModelConfig, requests: pd.DataFrame, raw: Path) -> pd.DataFrame:
    cfg = ctx.config.warmth
    label, lora_r = f"warmth {model.name}", ctx.config.train.lora_r
    asks = requests[["response_id", "messages", "adapter"]]
    done = infer.answer_responses(asks, raw, model, cfg.engine, cfg.sampling, label=label, lora_r=lora_r)
    return requests.drop(columns=["messages"]).merge(
        done[["response_id", "generated_text", "inference_error"]], on="response_id"
    )


def _score(ctx: StageContext, answers: pd.DataFrame, raw: Path) -> pd.DataFrame:
    texts = answers[["response_id", "generated_text"]].rename(columns={"generated_text": "text"})
    todo = resumable.remaining(texts, "response_id", raw)
    if len(todo):
        score_dataset(ray.data.from_pandas(todo), ctx.config.warmth).write_parquet(str(raw))
    scores = resumable.collect(raw, "response_id", texts["response_id"])
    return answers.merge(scores[["response_id", *SCORE_COLUMNS]], on="response_id")


def run(ctx: StageContext, out: Path) -> dict[str, int]:
    """Answer the held-out prompts with every checkpoint and score the answers' warmth."""
    cfg = ctx.config.warmth
    prompts = ctx.read("corpus", "val_prompts")
    prompts = prompts.head(cfg.n_prompts) if cfg.n_prompts else prompts
    if prompts.empty:
        raise StageError("warmth: corpus has no val_prompts (corpus.max_val_prompts is 0?)")
    frames = []
    for model in ctx.config.models:
        requests = checkpoint_requests(prompts, model.name, _checkpoints(ctx, model))
        answers = _answer(ctx, model, requests, out / ".raw" / "answers" / model.name)
        failed = answers["inference_error"] != ""
        if failed.any():
            log.warning("warmth: %d of %d answers failed in the engine, unscored", failed.sum(), len(answers))
        frames.append(_score(ctx, answers[~failed], out / ".raw" / "scores" / model.name))
    scored = pd.concat(frames, ignore_index=True).rename(columns={"generated_text": "response"})
    scores = score_rows(scored, ctx.config.train.styles).assign(procedure=cfg.procedure, scorer=cfg.scorer)
    n = write_table(scores[columns("warmth_scores")], table_path(out, "warmth", "scores"), "warmth_scores")
    curve = write_table(warmth_table(scores), table_path(out, "warmth", "by_epoch"), "warmth_by_epoch")
    return {"scores": n, "by_epoch": curve}
