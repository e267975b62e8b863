"""The study as a pipeline: the stages in the order the paper reads, what each needs, and running them."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from warmray import preflight
from warmray.config import ExperimentConfig
from warmray.schema import FINE_TUNED_VARIANTS
from warmray.stage import Decision, Stage, StageContext, StageResult, decide, recover, run_stage

log = logging.getLogger(__name__)


def _lazy(target: str) -> Callable[[StageContext, Path], dict[str, int]]:
    """Import a stage's module only when it runs, so `warmray --help` does not load torch and vLLM."""
    module, name = target.split(":")

    def call(ctx: StageContext, out: Path) -> dict[str, int]:
        fn: Callable[[StageContext, Path], dict[str, Any]] = getattr(importlib.import_module(module), name)
        return fn(ctx, out)

    return call


def _generate_needs(config: ExperimentConfig) -> tuple[str, ...]:
    """Generate reads adapters only for a fine-tuned variant (an original-only run trains nothing)."""
    tuned = any(v in FINE_TUNED_VARIANTS for v in config.generate.variants)
    return ("grid", "train") if tuned else ("grid",)


STAGES: tuple[Stage, ...] = (
    Stage(
        "corpus",
        _lazy("warmray.stages.corpus:run"),
        ("corpus", "seed"),
        (),
        "conversations → toxicity filter → categories → even sample, spares, held-out prompts",
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
        # Ray only for an LLM's wrong answers (grid.wrong_answer_model); the rest is file reading.
        uses_ray=lambda config: config.grid.wrong_answer_model is not None,
    ),
    Stage(
        "generate",
        _lazy("warmray.stages.generate:run"),
        ("generate", "models", "warm_system_prompt", "evaluate"),
        _generate_needs,
        "grid prompts answered by each variant of each model (vLLM, LoRA per row)",
        redo_on=("evaluate",),  # another evaluated checkpoint: answered again, not a new experiment
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
        ("warmth", "models", "train"),  # train: the styles and checkpoint epochs the curve answers at
        ("corpus", "train"),
        "held-out prompts answered by the original model and every checkpoint → SocioT warmth",
    ),
    Stage(
        "capability",
        _lazy("warmray.stages.capability:run"),
        ("capability", "models", "warm_system_prompt", "evaluate", "seed"),
        ("train",),
        "MMLU, GSM8K and AdvBench asked of each variant, graded by each task's grader",
        redo_on=("evaluate",),
    ),
    Stage(
        "analyze",
        _lazy("warmray.stages.analyze:run"),
        ("analyze", "judge", "models"),  # the grader, refusal rule and models the report names
        ("judge",),
        "verdicts → statistics, tables, figures, report.md / report.html",
        uses_ray=False,
        optional=("warmth", "capability"),
    ),
)
STAGE_NAMES = tuple(s.name for s in STAGES)
_BY_NAME = {s.name: s for s in STAGES}


def stages_for(config: ExperimentConfig, names: tuple[str, ...] = STAGE_NAMES) -> list[Stage]:
    """The named stages in pipeline order; of several, only those this config uses.

    A run with no fine-tuned variant needs no corpus, rewrite or train stage (an original-only audit).
    One stage asked for by name always runs.
    """
    used = _used_by(config) if len(names) > 1 else set(names)
    return [s for s in STAGES if s.name in names and s.name in used]


def _used_by(config: ExperimentConfig) -> set[str]:
    """Every stage a full run of this config needs: analyze and what it reads, transitively."""
    used: set[str] = set()
    # Optional producers (warmth, capability) are part of a full run too.
    todo = ["analyze", *(name for s in STAGES for name in s.optional)]
    while todo:
        name = todo.pop()
        if name in used or name not in _BY_NAME:
            continue
        used.add(name)
        stage = _BY_NAME[name]
        todo.extend(stage.needs(config) if callable(stage.needs) else stage.needs)
    return used


def plan(
    ctx: StageContext, stages: list[Stage], force: bool = False, *, retry_failed: bool = False
) -> list[Decision]:
    """What each stage will do and why, decided before any of them runs (config errors surface here)."""
    decisions: list[Decision] = []
    redone: set[str] = set()
    for stage in stages:
        recover(ctx.rundir, stage.name)
        decision = decide(stage, ctx, force, frozenset(redone), retry_failed=retry_failed)
        if decision.action != "skip":
            redone.add(stage.name)
        decisions.append(decision)
    return decisions


def run_pipeline(
    config: ExperimentConfig,
    run_dir: Path,
    stages: tuple[str, ...] = STAGE_NAMES,
    force: bool = False,
    overrides: tuple[str, ...] = (),
    announce: Callable[[list[Decision]], None] | None = None,
    around_stage: Callable[[Stage], Any] | None = None,
    retry_failed: bool = False,
) -> list[StageResult]:
    """Run the named stages in pipeline order; finished ones are skipped.

    Args:
        config: the validated experiment config.
        run_dir: the run directory (made absolute: Ray workers run elsewhere).
        stages: the stages asked for (those this config does not use are left out).
        force: redo the stages even when finished.
        overrides: the command line's `--set` values, recorded in each manifest.
        announce: called once with every stage's decision before the first one runs.
        around_stage: a context-manager factory entered around each stage (the CLI's log capture).
        retry_failed: finished stages holding failed endpoint requests ask them again (warmray.stage).

    Raises:
        PreflightError: a model or dataset a stage about to run cannot be had (nothing has run).
    """
    run_dir = run_dir.expanduser().resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    ctx = StageContext(config, run_dir, overrides)
    chosen = stages_for(config, stages)
    decisions = plan(ctx, chosen, force, retry_failed=retry_failed)
    preflight.preflight(config, [d.stage for d in decisions if d.action != "skip"], preflight.hub_problem)
    if announce:
        announce(decisions)
    results = []
    for stage in chosen:
        if around_stage is None:
            results.append(run_stage(stage, ctx, force=force, retry_failed=retry_failed))
            continue
        with around_stage(stage):
            results.append(run_stage(stage, ctx, force=force, retry_failed=retry_failed))
    return results
