"""What a run was, for the report's caveats: its models, who graded, whose verdicts, the recorded versions.

Read from a run's config and manifests (`run_info`, `config_info`) or from verdict files (`files_info`);
the analyze stage, `analyze --from` and the terminal summary after a run all describe a run this way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from warmray.config import ExperimentConfig
from warmray.grading import grader_for, grader_names
from warmray.manifest import read_manifest, recorded_versions
from warmray.models import BUILTIN_PREFIX
from warmray.rundir import RunDir
from warmray.stage import StageContext, package_versions


def verdict_table(cfg: ExperimentConfig) -> str:
    """The judge table analysed: the reference grader's kept beside an LLM judge's, when asked for.

    With judge.grader reference there is one table, and it is the reference grader's.
    """
    reference = cfg.analyze.verdicts == "reference" and grader_for(cfg.judge.grader).reference_beside
    return "reference_verdicts" if reference else "verdicts"


def judge_words(grader: str, model: str, endpoint: str | None, kept_reference: bool) -> str:
    """The report's words for who graded: `grader` (a registry name) with `model` at `endpoint` if any."""
    words = grader_for(grader).describe(model, endpoint)
    if kept_reference:
        return f"reference answer matching (analyze.verdicts: reference); the {words} graded beside it"
    return words


def verdicts_from(grader: str, kept_reference: bool) -> str:
    """Whose verdicts were analysed: the grader's name, or `reference` for those kept beside it."""
    return "reference" if kept_reference else grader


_RECORDED = ("rewrite", "train", "grid", "generate", "judge", "warmth", "capability")


def run_info(ctx: StageContext) -> dict[str, Any]:
    """What the run was, from its config and the manifests of the stages before this one.

    Package versions are those each stage recorded when it made its rows (generate's for the responses,
    judge's for the verdicts), with this analysis's own apart: a later upgrade must not relabel old rows.
    """
    cfg = ctx.config
    sizes: dict[str, Any] = {}
    nondeterministic: dict[str, str] = {}
    for stage in _RECORDED:
        if ctx.rundir.finished(stage):
            manifest = read_manifest(ctx.rundir.stage(stage))
            sizes.update({f"{stage}/{k}": v for k, v in manifest.rows.items()})
            if manifest.nondeterministic:  # warmray.infer.determinism
                nondeterministic[stage] = manifest.nondeterministic
    return {
        **config_info(cfg),
        "data_sizes": sizes,
        "nondeterministic": nondeterministic,
        "versions": {**recorded_versions(ctx.rundir, _RECORDED), "this analysis": package_versions()},
    }


def config_info(cfg: ExperimentConfig) -> dict[str, Any]:
    """The part of `run_info` the config alone gives: models, judge, whose verdicts, refusal rule.

    Enough for the report's caveats, so the terminal summary can say them from the config too.
    """
    kept_reference = verdict_table(cfg) == "reference_verdicts"
    builtin = sorted({m.source for m in cfg.models if m.source.startswith(BUILTIN_PREFIX)})
    return {
        "models": {m.name: m.source for m in cfg.models},
        "judge": judge_words(cfg.judge.grader, cfg.judge.model, cfg.judge.engine.endpoint, kept_reference),
        "verdicts_from": verdicts_from(cfg.judge.grader, kept_reference),
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
        names = [g.partition(":")[0] for g in graders]  # the column holds reference, or llm:<model>
        words = [
            judge_words(name, g.partition(":")[2], None, False) if name in grader_names() else g
            for name, g in zip(names, graders, strict=True)
        ]
        if words:
            info["judge"] = "; ".join(words) + " (the verdicts' grader column)"
            info["verdicts_from"] = "+".join(sorted(set(names)))
    return info


def _run_dir_info(path: Path) -> dict[str, Any]:
    """Models and judge of a run directory (or its judge/ folder) from its manifests; {} if not one."""
    root = path.parent if path.name == "judge" else path
    try:
        judge = read_manifest(root / "judge").config_sections["judge"]
        models = read_manifest(root / "generate").config_sections["models"]
        analysed = read_manifest(root / "analyze").config_sections if RunDir(root).finished("analyze") else {}
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    verdicts = analysed.get("analyze", {}).get("verdicts")
    grader = str(judge.get("grader", "reference"))
    if grader not in grader_names():  # a grader this process does not know (registered elsewhere)
        return {}
    kept = (
        grader_for(grader).reference_beside
        and verdicts == "reference"
        and (root / "judge" / "reference_verdicts").is_dir()
    )
    builtin = sorted(
        {str(m["source"]) for m in models if str(m.get("source", "")).startswith(BUILTIN_PREFIX)}
    )
    return {
        "models": {str(m["name"]): str(m["source"]) for m in models},
        "judge": judge_words(grader, str(judge.get("model")), None, kept),
        "verdicts_from": verdicts_from(grader, kept),
        "builtin_model": bool(builtin),
        "builtin_sources": builtin,
        "refusal_rule": judge.get("refusal_rule"),
    }
