"""One sweep trial, as the Tune function: train with Ray Train, then score the slice.

The trial's run directory is `SWEEP/trials/<name>/`, named by its values (warmray.sweep.space), with the
shared stages (corpus, rewrite at its intensity, grid) linked in from `SWEEP/base/<intensity>/`. Training
is the pipeline's train stage (so a rerun skips a finished trial's training and resumes an interrupted
one from its last checkpoint), with `TuneReportCallback` passing Ray Train's reports on to Tune.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

from warmray.config import ExperimentConfig
from warmray.pipeline import STAGES
from warmray.runtime import configure_data
from warmray.stage import StageContext, run_stage
from warmray.stages.train import run as run_train
from warmray.sweep.evaluate import evaluate
from warmray.sweep.space import trial_config, trial_name

SHARED_STAGES = ("corpus", "rewrite", "grid")
METRICS_FILE = "metrics.json"


def base_dir(sweep_dir: Path, intensity: str) -> Path:
    """The run directory of the stages shared by every trial of one rewrite intensity."""
    return sweep_dir / "base" / intensity


def link_shared(base: Path, run_dir: Path, stages: tuple[str, ...] = SHARED_STAGES) -> None:
    """Make a trial's run directory see the shared stages' committed output (symbolic links)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in stages:
        link = run_dir / name
        if not link.exists():
            link.symlink_to((base / name).resolve(), target_is_directory=True)


def _train_with_tune(ctx: StageContext) -> None:
    from ray.tune.integration.ray_train import TuneReportCallback

    stage = next(s for s in STAGES if s.name == "train")
    reporting = functools.partial(run_train, callbacks=(TuneReportCallback(),))
    run_stage(dataclasses.replace(stage, run=reporting), ctx)


def run_trial(params: dict[str, Any], config_json: str, sweep_dir: str) -> None:
    """The Tune function: train the trial's adapter, score it, report the metrics to Tune.

    Args:
        params: one point of warmray.sweep.space.param_space.
        config_json: the experiment config (JSON: Tune ships it to the trial's process).
        sweep_dir: the sweep's folder (absolute).
    """
    from ray import tune

    cfg = trial_config(ExperimentConfig.model_validate_json(config_json), params)
    configure_data(cfg.ray, progress_bars=False)  # the sweep prints its own progress lines
    name = trial_name(params)
    run_dir = Path(sweep_dir) / "trials" / name
    link_shared(base_dir(Path(sweep_dir), params["rewrite_intensity"]), run_dir)
    ctx = StageContext(cfg, run_dir)
    _train_with_tune(ctx)
    metrics = {"trial": name, **params, **evaluate(ctx, run_dir / "eval")}
    (run_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=2))
    tune.report(metrics)
