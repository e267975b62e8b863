"""The sweep's search space, and the experiment config one trial runs.

A trial is a point on six axes of warmth strength: the checkpoint epoch, learning rate, LoRA rank, warm
fraction, rewrite intensity and training system prompt. Its config is the experiment's config with
those values put in place, one style (warm), one model, and the evaluation cut to the sweep's fixed slice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from warmray.config import ExperimentConfig, ModelConfig


def axis_values(cfg: ExperimentConfig) -> dict[str, list[Any]]:
    """The values tried on each axis (an empty sweep axis keeps the experiment's own setting)."""
    s = cfg.sweep
    return {
        "checkpoint_epoch": list(s.checkpoint_epoch),
        "learning_rate": list(s.learning_rate) or [cfg.train.learning_rate],
        "lora_r": list(s.lora_r) or [cfg.train.lora_r],
        "warm_fraction": list(s.warm_fraction),
        "rewrite_intensity": list(s.rewrite_intensity) or [cfg.rewrite.intensity],
        "system_prompt": list(s.system_prompt),
    }


def param_space(cfg: ExperimentConfig) -> dict[str, Any]:
    """Tune's param_space: grid_search over every axis for a grid, choices to draw from otherwise."""
    from ray import tune

    wrap = tune.grid_search if cfg.sweep.search == "grid" else tune.choice
    return {axis: wrap(values) for axis, values in axis_values(cfg).items()}


def trial_name(params: dict[str, Any]) -> str:
    """A stable folder name from the trial's values, so a rerun of the sweep finds the trial's work."""
    prompt = params["system_prompt"]
    prompt = Path(prompt).stem if prompt else "none"
    return (
        f"e{params['checkpoint_epoch']:g}-lr{params['learning_rate']:g}-r{params['lora_r']}"
        f"-wf{params['warm_fraction']:g}-{params['rewrite_intensity']}-sys_{prompt}"
    )


def swept_model(cfg: ExperimentConfig) -> ModelConfig:
    """The model the sweep trains (sweep.model, else the first)."""
    if cfg.sweep.model is None:
        return cfg.models[0]
    for model in cfg.models:
        if model.name == cfg.sweep.model:
            return model
    raise ValueError(f"sweep.model {cfg.sweep.model!r} is not one of {[m.name for m in cfg.models]}")


def _slice(data: dict[str, Any], cfg: ExperimentConfig) -> None:
    """Cut the grid to sweep.eval_items per task (nested seeded samples: the same items every trial)."""
    n = cfg.sweep.eval_items
    for task, source in zip(data["grid"]["tasks"], cfg.grid.tasks, strict=True):
        size = source.sample_size()
        task["n"] = n if size is None else min(size, n)


def base_config(cfg: ExperimentConfig, intensity: str) -> ExperimentConfig:
    """The config of the stages all trials share (corpus, the warm rewrite at one intensity, grid)."""
    data = cfg.model_dump(mode="json")
    data["models"] = [swept_model(cfg).model_dump(mode="json")]
    data["rewrite"].update(styles=["warm"], intensity=intensity)
    data["train"]["styles"] = ["warm"]
    _slice(data, cfg)
    return ExperimentConfig.model_validate(data)


def trial_config(cfg: ExperimentConfig, params: dict[str, Any]) -> ExperimentConfig:
    """The experiment config of one trial (validated, so a bad combination fails with the config's words).

    The learning-rate schedule still spans train.epochs: a trial that stops at epoch 2 of a 10-epoch
    schedule is the study's epoch-2 checkpoint. lora_alpha keeps its ratio to r (the study's 16/8), so the
    rank changes capacity, not the update's scale.
    """
    data = base_config(cfg, params["rewrite_intensity"]).model_dump(mode="json")
    epoch = float(params["checkpoint_epoch"])
    ratio = cfg.train.lora_alpha / cfg.train.lora_r
    data["train"].update(
        learning_rate=params["learning_rate"],
        lora_r=params["lora_r"],
        lora_alpha=max(1, round(ratio * params["lora_r"])),
        warm_fraction=params["warm_fraction"],
        system_prompt=params["system_prompt"],
        epochs=max(cfg.train.epochs, epoch),
        checkpoint_epochs=[epoch],
    )
    data["evaluate"]["epoch"] = epoch
    data["generate"]["variants"] = ["warm"]
    data["warmth"].update(epochs=[epoch], n_prompts=cfg.sweep.val_prompts)
    return ExperimentConfig.model_validate(data)
