"""The study as a pipeline: the stages in the order the paper reads, and running them."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from warmray.config import ExperimentConfig
from warmray.stage import Stage, StageContext, StageResult, run_stage

log = logging.getLogger(__name__)


def _lazy(target: str) -> Callable[[StageContext, Path], dict[str, int]]:
    """Import a stage's module only when it runs, so `warmray --help` does not load torch and vLLM."""
    module, name = target.split(":")

    def call(ctx: StageContext, out: Path) -> dict[str, int]:
        fn: Callable[[StageContext, Path], dict[str, Any]] = getattr(importlib.import_module(module), name)
        return fn(ctx, out)

    return call


STAGES: tuple[Stage, ...] = (
    Stage(
        "corpus",
        _lazy("warmray.stages.corpus:run"),
        ("corpus", "seed"),
        (),
        "conversations → toxicity filter → categories → even sample → train/val split",
        uses_ray=False,
    ),
    Stage(
        "rewrite",
        _lazy("warmray.stages.rewrite:run"),
        ("rewrite",),
        ("corpus",),
        "every assistant turn rewritten warm and cold by an LLM, checked",
    ),
    Stage(
        "train",
        _lazy("warmray.stages.train:run"),
        ("train", "models"),
        ("rewrite",),
        "LoRA SFT of each model on each style with Ray Train; adapters per checkpoint epoch",
    ),
    Stage(
        "grid",
        _lazy("warmray.stages.grid:run"),
        ("grid", "seed"),
        (),
        "benchmark items → prompt variants (templates x interpersonal contexts)",
    ),
    Stage(
        "generate",
        _lazy("warmray.stages.generate:run"),
        ("generate", "models", "warm_system_prompt"),
        ("grid", "train"),
        "grid prompts answered by each variant of each model (vLLM, LoRA per row)",
    ),
    Stage(
        "judge",
        _lazy("warmray.stages.judge:run"),
        ("judge",),
        ("generate",),
        "responses → verdicts (refusal rules, reference grader or LLM judge)",
    ),
    Stage(
        "warmth",
        _lazy("warmray.stages.warmth:run"),
        ("warmth", "models"),
        ("corpus", "train"),
        "held-out prompts answered by the original model and every checkpoint → SocioT warmth",
    ),
    Stage(
        "capability",
        _lazy("warmray.stages.capability:run"),
        ("capability", "models", "warm_system_prompt"),
        ("train",),
        "MMLU, GSM8K and AdvBench asked of each variant, graded by each task's grader",
    ),
    Stage(
        "analyze",
        _lazy("warmray.stages.analyze:run"),
        ("analyze",),
        ("judge",),
        "verdicts → statistics, tables, figures, report.md / report.html",
        uses_ray=False,
    ),
)
STAGE_NAMES = tuple(s.name for s in STAGES)


def run_pipeline(
    config: ExperimentConfig, run_dir: Path, stages: tuple[str, ...] = STAGE_NAMES, force: bool = False
) -> list[StageResult]:
    """Run the named stages in pipeline order; finished ones are skipped."""
    # Absolute: Ray workers run in other folders (and, on a cluster, on other machines).
    run_dir = run_dir.expanduser().resolve()
    ctx = StageContext(config, run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for stage in STAGES:
        if stage.name in stages:
            results.append(run_stage(stage, ctx, force=force))
    return results
