"""The `analyze` stage: the run's verdicts (and warmth and capability scores, when present) → report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from warmray.config import ExperimentConfig
from warmray.models import BUILTIN_PREFIX
from warmray.stage import MANIFEST, StageContext, package_versions, read_manifest
from warmray.stages.analyze.study import analyze
from warmray.statistics import load_verdict_files


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


def judge_words(grader: str, llm_judge: str, kept_reference: bool) -> str:
    """The report's words for who graded: `grader` reference|llm, `llm_judge` e.g. "LLM judge gpt-4o"."""
    if grader == "reference":
        return "reference answer matching (no LLM judge)"
    if kept_reference:
        return f"reference answer matching (analyze.verdicts: reference); the {llm_judge} graded beside it"
    return llm_judge


def run_info(ctx: StageContext) -> dict[str, Any]:
    """What the run was, from its config and the manifests of the stages before this one."""
    cfg = ctx.config
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
    return {
        **config_info(cfg),
        "data_sizes": sizes,
        "nondeterministic": nondeterministic,
        "versions": versions,
    }


def config_info(cfg: ExperimentConfig) -> dict[str, Any]:
    """The part of `run_info` the config alone gives: models, judge, whose verdicts, refusal rule.

    Enough for the report's caveats, so the terminal summary can say them from the config too.
    """
    llm_judge = f"LLM judge {cfg.judge.model}" + (
        f" at {cfg.judge.engine.endpoint}" if cfg.judge.engine.endpoint else ""
    )
    kept_reference = verdict_table(cfg) == "reference_verdicts"
    builtin = sorted({m.source for m in cfg.models if m.source.startswith(BUILTIN_PREFIX)})
    return {
        "models": {m.name: m.source for m in cfg.models},
        "judge": judge_words(cfg.judge.grader, llm_judge, kept_reference),
        "verdicts_from": "reference" if cfg.judge.grader == "reference" or kept_reference else "llm_judge",
        "refusal_rule": cfg.judge.refusal_rule,
        "builtin_model": bool(builtin),
        "builtin_sources": builtin,
    }


def files_info(verdicts: pd.DataFrame, sources: list[Path]) -> dict[str, Any]:
    """What `analyze --from` can tell of where its verdicts came from, for the report's caveats and run.

    The files read (`attrs["files"]` of load_verdict_files); who graded, from the verdicts' `grader`
    column (reference, or llm:<model>); and, for a source that is one of our run directories, what that
    run's own report knew: its models (the built-in-model banner) and its judge, from its manifests.
    """
    info: dict[str, Any] = {
        "sources": [str(s) for s in sources],
        "files": list(verdicts.attrs.get("files", [])),
    }
    for source in sources:
        info.update(_run_dir_info(Path(source)))
    if "grader" in verdicts.columns and "judge" not in info:
        graders = sorted({str(g) for g in verdicts["grader"].dropna()} - {""})
        words = [
            judge_words("reference", "", False) if g == "reference" else f"LLM judge {g.removeprefix('llm:')}"
            for g in graders
        ]
        if words:
            info["judge"] = "; ".join(words) + " (the verdicts' grader column)"
            info["verdicts_from"] = "reference" if graders == ["reference"] else "llm_judge"
    return info


def _run_dir_info(path: Path) -> dict[str, Any]:
    """Models and judge of a run directory (or its judge/ folder) from its manifests; {} if not one."""
    root = path.parent if path.name == "judge" else path
    try:
        judge = read_manifest(root / "judge")["config_sections"]["judge"]
        models = read_manifest(root / "generate")["config_sections"]["models"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    analysed = read_manifest(root / "analyze") if (root / "analyze" / MANIFEST).is_file() else {}
    verdicts = (analysed.get("config_sections") or {}).get("analyze", {}).get("verdicts")
    grader = str(judge.get("grader", "reference"))
    kept = grader == "llm" and verdicts == "reference" and (root / "judge" / "reference_verdicts").is_dir()
    builtin = sorted(
        {str(m["source"]) for m in models if str(m.get("source", "")).startswith(BUILTIN_PREFIX)}
    )
    return {
        "models": {str(m["name"]): str(m["source"]) for m in models},
        "judge": judge_words(grader, f"LLM judge {judge.get('model')}", kept),
        "verdicts_from": "reference" if grader == "reference" or kept else "llm_judge",
        "builtin_model": bool(builtin),
        "builtin_sources": builtin,
        "refusal_rule": judge.get("refusal_rule"),
    }
