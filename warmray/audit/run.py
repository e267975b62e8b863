"""An audit from start to card: pre-flight, the pipeline's own stages, the profile, the card.

The stages are the pipeline's grid → generate → judge → analyze, run through `run_pipeline` in the
audit's run directory, one at a time so the terminal can say where the audit is; a rerun of the same
audit skips what finished and resumes what was interrupted.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from warmray.audit.card import write_card
from warmray.audit.experiment import AuditRequest, prompts_per_item
from warmray.audit.profile import arm_label, build_profile
from warmray.audit.progress import Progress, estimate_seconds
from warmray.audit.targets import check_targets
from warmray.config import ExperimentConfig
from warmray.console import Console, stop_ray
from warmray.grading import grader_for
from warmray.manifest import read_manifest, recorded_versions
from warmray.models import BUILTIN_PREFIX
from warmray.pipeline import run_pipeline
from warmray.rundir import RunDir
from warmray.schema import Col
from warmray.statistics import load_verdict_files

AUDIT_STAGES = ("grid", "generate", "judge", "analyze")
CARD_FOLDER = "audit"


def _what(stage: str, config: ExperimentConfig, n_prompts: int) -> str:
    arms = len(config.models) * len(config.generate.variants)
    return {
        "grid": f"about {n_prompts} prompts from {', '.join(t.name for t in config.grid.tasks)}",
        "generate": f"{n_prompts} prompts x {arms} arm(s) answered",
        "judge": "grading by " + grader_for(config.judge.grader).describe(config.judge.model),
        "analyze": "the study's analysis report",
    }[stage]


def run_audit(
    req: AuditRequest, config: ExperimentConfig, run_dir: Path, console: Console, retry_failed: bool = False
) -> dict[str, Path]:
    """Check the targets, run the stages (each one's Ray and vLLM output in its log), write the card.

    With `retry_failed`, finished stages ask again their endpoint requests that failed (warmray.stage).
    Returns the card's paths.
    """
    check_targets(list(req.targets), list(req.names), req.judge)
    per_item = prompts_per_item(config.grid.prompt_templates, config.grid.amendment_types)
    # Before the grid exists, a task asked for all its items counts as the study's 500.
    n_prompts = per_item * sum(t.sample_size() or 500 for t in config.grid.tasks)
    progress = Progress(estimate_seconds(config, n_prompts), say=console.say)
    started, seconds = time.time(), {}
    rundir = RunDir(run_dir.expanduser().resolve())
    with rundir.locked():  # one command per run directory, as for `warmray run`
        try:
            for stage in AUDIT_STAGES:
                progress.start(stage, _what(stage, config, n_prompts))
                with console.capture(rundir.log(stage)):
                    (result,) = run_pipeline(config, rundir.root, (stage,), retry_failed=retry_failed)
                progress.finish(stage, result.skipped)
                manifest = read_manifest(result.out_dir)
                seconds[stage] = manifest.seconds
                if stage == "grid":  # the real count: items without a usable wrong answer were set aside
                    n_prompts = manifest.rows["prompts"]
                    progress.estimates = estimate_seconds(config, n_prompts)
        finally:
            stop_ray(console, rundir.log("shutdown"))
    verdicts = load_verdict_files([rundir.table("judge", "verdicts")])
    order = [arm_label(m.name, v) for m in config.models for v in config.generate.variants]
    run = run_description(req, config, rundir, verdicts)
    run |= {
        "seconds": seconds,
        "total_seconds": time.time() - started,
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
    }
    return write_card(build_profile(verdicts, order), run, rundir.root / CARD_FOLDER)


def run_description(
    req: AuditRequest, config: ExperimentConfig, rundir: RunDir, verdicts: pd.DataFrame
) -> dict[str, Any]:
    """What was run, for the card: targets, judge, sampling, sizes, versions."""
    judge = config.judge
    judge_text = grader_for(judge.grader).describe(judge.model, judge.engine.endpoint)
    sizes: dict[str, Any] = {
        "items per task": verdicts.groupby(Col.TASK)[Col.ITEM_ID].nunique().to_dict(),
        "prompts per item": prompts_per_item(config.grid.prompt_templates, config.grid.amendment_types),
    }
    for stage in AUDIT_STAGES[:3]:
        if rundir.finished(stage):
            sizes |= {f"{stage}/{k}": v for k, v in read_manifest(rundir.stage(stage)).rows.items()}
    s = config.generate.sampling
    targets = [
        {
            "name": n,
            "target": t.text,
            "kind": t.kind,
            "source": t.source,
            "endpoint": t.endpoint,
            "adapter": t.adapter,
        }
        for t, n in zip(req.targets, req.names, strict=True)
    ]
    return {
        "targets": targets,
        "models": {m.name: m.source for m in config.models},
        "builtin_sources": sorted({m.source for m in config.models if m.source.startswith(BUILTIN_PREFIX)}),
        "judge": judge_text,
        "system_prompt": str(req.system_prompt) if req.system_prompt else None,
        "sampling": f"temperature {s.temperature}, top_p {s.top_p}, at most {s.max_tokens} new tokens",
        "sizes": sizes,
        "versions": recorded_versions(rundir, AUDIT_STAGES),
        "run_dir": str(rundir.root),
    }
