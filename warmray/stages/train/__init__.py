"""The `train` stage: LoRA SFT of each model on each rewrite style, with Ray Train.

One `TorchTrainer` run per (model, style), running `warmray.training.loop.train_worker` on each
worker (`train.strategy`: DDP copies or FSDP2 shards); at each checkpoint epoch every rank reports its
part of the checkpoint (adapter + resumable state) to Ray Train, which keeps it under
`RUN_DIR/.train.partial/.ray_train/<model>-<style>/` (shared storage on a multi-node cluster). A worker
that dies is replaced and the group resumes from the last checkpoint, up to `train.max_failures` times;
re-running after a crash of the whole job resumes the same way. When all runs finish, the adapters are
copied to `train/<model>/<style>/epoch_<e>/`, each with its `training.json` (step, losses, training mix).

The checkpoints live in the stage's partial folder (`storage_dir`) on purpose: that folder carries the
attempt's stage identity (config sections and input output ids, `warmray.stage`), and a rerun whose
identity differs (another learning rate, a redone rewrite) discards it with everything in it, so a
checkpoint is only ever resumed by the stage identity that wrote it. At commit it is scratch.
"""

from __future__ import annotations

import json
import logging
import shutil
import signal
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from warmray.config import ModelConfig, TrainConfig
from warmray.models import resolve_model
from warmray.prompt_files import read_prompt
from warmray.rundir import adapter_path, epoch_label, table_path
from warmray.runtime import normal_priority
from warmray.schema import Col, columns, write_table
from warmray.stage import StageContext
from warmray.training import RECORD_FILE, STATE_DIR, train_worker

log = logging.getLogger(__name__)


def training_data(cfg: TrainConfig, rewritten: Path, originals: Path | None) -> dict[str, Any]:
    """What a worker needs to build the training mix (paths absolute: workers run elsewhere)."""
    return {
        "path": str(rewritten.resolve()),
        "originals": str(originals.resolve()) if originals and cfg.warm_fraction < 1 else None,
        "warm_fraction": cfg.warm_fraction,
        "system_prompt": cfg.system_prompt,
        "system_prompt_text": read_prompt(cfg.system_prompt) if cfg.system_prompt else "",
    }


def fit(
    cfg: TrainConfig,
    model_path: str,
    data: dict[str, Any],
    storage: Path,
    name: str,
    workers: int,
    callbacks: Sequence[Any] = (),
) -> Any:
    """One Ray Train run; returns its `ray.train.Result`.

    Args:
        cfg: training settings (strategy, failures, ...).
        model_path: the resolved base model.
        data: from `training_data`.
        storage: Ray Train's storage folder; with `name`, a rerun resumes the run found there.
        name: the run's stable name (no timestamps, so a rerun finds it).
        workers: Ray Train workers.
        callbacks: Ray Train callbacks (a Tune trial passes TuneReportCallback).
    """
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    cfg.accumulation(workers)  # a per-model worker count must divide the batch too: fail before Ray
    trainer = TorchTrainer(
        train_worker,
        train_loop_config={"train": cfg.model_dump(), "model_path": model_path, "data": data},
        # GPU workers pack onto few nodes (NCCL over NVLink); CPU workers spread, each to its own cores.
        scaling_config=ScalingConfig(
            num_workers=workers,
            use_gpu=cfg.device == "gpu",
            placement_strategy="PACK" if cfg.device == "gpu" else "SPREAD",
        ),
        run_config=RunConfig(
            name=name,
            storage_path=str(storage.resolve()),
            checkpoint_config=CheckpointConfig(num_to_keep=None),
            failure_config=FailureConfig(max_failures=cfg.max_failures),
            callbacks=list(callbacks),
            # CPU workers at a normal niceness, as the engines and their helpers run
            # (warmray.runtime.normal_priority): the training step is the stage's own work.
            worker_runtime_env={"env_vars": normal_priority(cfg.device == "cpu")},
        ),
    )
    return run_trainer(trainer)


def run_trainer(trainer: Any) -> Any:
    """`trainer.fit()` with Ctrl-C left to warmray: an interrupted fit raises KeyboardInterrupt.

    Ray Train's fit installs a SIGINT handler of its own (a graceful abort that ends the process with
    `sys.exit(0)`) and never removes it, so a Ctrl-C in any later stage of the command was swallowed.
    Here Ray's handler is not installed (its registration hook is replaced on this trainer), the
    process's SIGINT handler is put back after the fit in any case, and a `SystemExit` out of the fit
    (Ray's handler, should a Ray version install it another way) becomes the KeyboardInterrupt the
    command line reports as "interrupted" with exit 130. The workers stop when the command stops Ray;
    the checkpoints stay for the rerun (see `storage_dir`).
    """
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main else None
    trainer._register_sigint_handler = lambda controller: None
    try:
        return trainer.fit()
    except SystemExit as e:
        raise KeyboardInterrupt("SIGINT during training") from e
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def export_adapters(result: Any, final: Path, model: str, style: str) -> pd.DataFrame:
    """Copy a run's checkpoints to final/epoch_<e>/ as servable adapters; returns their loss rows."""
    staging = final.with_name(f".{final.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    rows = []
    for checkpoint, metrics in result.best_checkpoints:
        for e in metrics["epochs"]:
            dest = staging / epoch_label(e)
            checkpoint.to_directory(str(dest))
            shutil.rmtree(dest / STATE_DIR)  # optimizer state is for resuming, not for serving
            losses = json.loads((dest / RECORD_FILE).read_text())["losses"]
            rows += [{Col.MODEL: model, Col.STYLE: style, "checkpoint_epoch": e, "loss": v} for v in losses]
    metrics = pd.DataFrame(rows, columns=columns("train_metrics"))
    metrics.to_parquet(staging / "losses.parquet", index=False)
    shutil.rmtree(final, ignore_errors=True)
    staging.rename(final)
    return metrics


def storage_dir(out: Path) -> Path:
    """Ray Train's storage for one attempt of the stage: scratch inside its partial folder `out`.

    Kept with the attempt it belongs to (see the module docstring), and dot-named so it is never committed.
    """
    return out / ".ray_train"


def fit_one(
    ctx: StageContext, model: ModelConfig, style: str, out: Path, callbacks: Sequence[Any] = ()
) -> None:
    """Train one model on one style with Ray Train; copy its adapters to out/<model>/<style>/."""
    cfg = ctx.config.train.for_model(model)
    originals = ctx.rundir.table("corpus", "conversations")
    result = fit(
        cfg,
        resolve_model(model.source),
        training_data(cfg, ctx.rundir.table("rewrite", style), originals),
        storage_dir(out),
        f"{model.name}-{style}",  # stable name: a rerun of the same attempt resumes this run
        cfg.num_workers,
        callbacks,
    )
    export_adapters(result, adapter_path(out, model.name, style, 0).parent, model.name, style)


def run(ctx: StageContext, out: Path, callbacks: Sequence[Any] = ()) -> dict[str, int]:
    """Train every configured model on every configured style (pairs already done are kept).

    Args:
        ctx: the stage's config and run directory.
        out: the stage's partial output folder.
        callbacks: Ray Train callbacks for every run (a sweep trial's TuneReportCallback).
    """
    for model in ctx.config.models:
        for style in ctx.config.train.styles:
            if (out / model.name / style).is_dir():
                log.info("train: %s/%s finished in an earlier attempt", model.name, style)
                continue
            fit_one(ctx, model, style, out, callbacks)
    metrics = pd.concat(
        [pd.read_parquet(p) for p in sorted(out.glob("*/*/losses.parquet"))], ignore_index=True
    )
    write_table(metrics, table_path(out, "train", "metrics"), "train_metrics")
    adapters = sorted(p.parent for p in out.glob("*/*/epoch_*/adapter_config.json"))
    shutil.rmtree(ctx.rundir.ray_train, ignore_errors=True)  # where run directories of older versions kept it
    return {"adapters": len(adapters), "metrics": len(metrics)}
