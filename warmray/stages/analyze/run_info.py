"""The `analyze` stage: the run's verdicts (and warmth and capability scores, when present) → report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from warmray.config import ExperimentConfig
from warmray.models import BUILTIN_PREFIX
from warmray.stage import MANIFEST, StageContext, package_versions, read_manifest
from warmray.stages.analyze.study import analyze
from warmray.stages.analyze.verdicts import load_verdict_files


def run(ctx: StageContext, out: Path) -> dict[str, int]:
    """Analyse the run's judge table that `verdict_table` names; write the report and tables into `out`."""
    ctx.input_dir("judge")
    table = ctx.rundir.table("judge", verdict_table(ctx.config))
    verdicts = load_verdict_files([table], refusal_rule=ctx.config.judge.refusal_rule)
    return analyze(
        verdicts,
        out,
        config=ctx.config.analyze,
        run_info=run_info(ctx),
        warmth=_optional(ctx, "warmth"),
        capability=_optional(ctx, "capability"),
    )


def _optional(ctx: StageContext, stage: str) -> pd.DataFrame | None:
    """An optional input: the stage's scores when it ran (its identity is in this stage's key)."""
    return ctx.read(stage, "scores") if ctx.rundir.finished(stage) else None


def verdict_table(cfg: ExperimentConfig) -> str:
    """The judge table analysed: the reference grader's kept beside an LLM judge's, when asked for.

    With judge.grader reference there is one table, and it is the reference grader's.
    """
    reference = cfg.analyze.verdicts == "reference" and cfg.judge.grader == "llm"
    return "reference_verdicts" if reference else "verdicts"


def run_info(ctx: StageContext) -> dict[str, Any]:
    """What the run was, from its config and the manifests of the stages before this one."""
    cfg = ctx.config
    llm_judge = f"LLM judge {cfg.judge.model}" + (
        f" at {cfg.judge.engine.endpoint}" if cfg.judge.engine.endpoint else ""
    )
    kept_reference = verdict_table(cfg) == "reference_verdicts"
    if cfg.judge.grader == "reference":
        judge = "reference answer matching (no LLM judge)"
    elif kept_reference:
        judge = f"reference answer matching (analyze.verdicts: reference); the {llm_judge} graded beside it"
    else:
        judge = llm_judge
    sizes: dict[str, Any] = {}
    nondeterministic: dict[str, str] = {}
    versions = package_versions()
    for stage in ("rewrite", "grid", "generate", "judge", "warmth", "capability"):
        folder = ctx.run_dir / stage
        if (folder / MANIFEST).is_file():
            manifest = read_manifest(folder)
            sizes.update({f"{stage}/{k}": v for k, v in (manifest.get("rows") or {}).items()})
            if manifest.get("nondeterministic"):  # warmray.infer.determinism
                nondeterministic[stage] = manifest["nondeterministic"]
            versions = {**manifest.get("versions", {}), **versions}
    builtin = sorted({m.source for m in cfg.models if m.source.startswith(BUILTIN_PREFIX)})
    return {
        "models": {m.name: m.source for m in cfg.models},
        "judge": judge,
        "verdicts_from": "reference" if cfg.judge.grader == "reference" or kept_reference else "llm_judge",
        "refusal_rule": cfg.judge.refusal_rule,
        "builtin_model": bool(builtin),
        "builtin_sources": builtin,
        "data_sizes": sizes,
        "nondeterministic": nondeterministic,
        "versions": versions,
    }
