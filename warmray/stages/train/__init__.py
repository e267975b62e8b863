"""The `train` stage: LoRA SFT of each model on each rewrite style, with Ray Train.

One `TorchTrainer` run per (model, style), running `warmray.stages.train.loop.train_worker` on each
worker; rank 0 saves the LoRA adapter at each checkpoint epoch and reports it to Ray Train, which keeps
it under `RUN_DIR/.ray_train/<model>-<style>/` (shared storage on a multi-node cluster). Re-running after
a crash resumes from the last reported checkpoint. When all runs finish, the adapters are copied to
`train/<model>/<style>/epoch_<e>/`.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pandas as pd

from warmray.config import ModelConfig
from warmray.models import resolve_model
from warmray.stage import StageContext
from warmray.stages.train.loop import STATE_FILE, epoch_label, train_worker

log = logging.getLogger(__name__)

_METRIC_COLUMNS = ["model", "style", "checkpoint_epoch", "loss"]


def fit_one(ctx: StageContext, model: ModelConfig, style: str, out: Path) -> None:
    """Train one model on one style with Ray Train; copy its adapters to out/<model>/<style>/."""
    from ray.train import CheckpointConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    cfg = ctx.config.train
    if model.train_strategy:
        cfg = cfg.model_copy(update={"strategy": model.train_strategy})
    trainer = TorchTrainer(
        train_worker,
        train_loop_config={
            "train": cfg.model_dump(),
            "model_path": resolve_model(model.source),
            "data_path": str(ctx.input_dir("rewrite") / f"{style}.parquet"),
        },
        scaling_config=ScalingConfig(num_workers=model.train_workers or cfg.num_workers, use_gpu=cfg.use_gpu),
        run_config=RunConfig(
            name=f"{model.name}-{style}",  # stable name: a rerun resumes this run
            storage_path=str((ctx.run_dir / ".ray_train").resolve()),
            checkpoint_config=CheckpointConfig(num_to_keep=None),
        ),
    )
    result = trainer.fit()
    staging = out / model.name / f".{style}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    rows = []
    for checkpoint, metrics in result.best_checkpoints:
        for e in metrics["epochs"]:
            dest = staging / epoch_label(e)
            checkpoint.to_directory(str(dest))
            (dest / STATE_FILE).unlink(missing_ok=True)  # optimizer state is for resuming, not for serving
            losses = json.loads((dest / "losses.json").read_text())
            rows += [{"model": model.name, "style": style, "checkpoint_epoch": e, "loss": v} for v in losses]
    pd.DataFrame(rows, columns=_METRIC_COLUMNS).to_parquet(staging / "losses.parquet", index=False)
    staging.rename(out / model.name / style)


def run(ctx: StageContext, out: Path) -> dict[str, int]:
    """Train every configured model on every configured style (pairs already done are kept)."""
    for model in ctx.config.models:
        for style in ctx.config.train.styles:
            if (out / model.name / style).is_dir():
                log.info("train: %s/%s finished in an earlier attempt", model.name, style)
                continue
            fit_one(ctx, model, style, out)
    metrics = pd.concat(
        [pd.read_parquet(p) for p in sorted(out.glob("*/*/losses.parquet"))], ignore_index=True
    )
    metrics.to_parquet(out / "metrics.parquet", index=False)
    adapters = sorted(p.parent for p in out.glob("*/*/epoch_*/adapter_config.json"))
    shutil.rmtree(ctx.run_dir / ".ray_train", ignore_errors=True)
    return {"adapters": len(adapters), "metrics": len(metrics)}
