"""A committed stage's record: what it was made from, what it wrote, with which packages.

Every stage folder holds one `manifest.json` (rundir.MANIFEST), written last when the stage commits, so
its presence means the stage finished. The record is typed so that a reader names fields (a typo fails
in the linter, not as a KeyError in a report) and versioned so that a format change is noticed: a
manifest without `schema_version` was written before the field existed and is read as version 1 (same
fields, some optional); one that cannot be read as any known version raises `OutdatedManifest`, and the
stage that wrote it is redone; one written by a newer warmray raises `ManifestError` (upgrade warmray).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from warmray.errors import UserError
from warmray.rundir import MANIFEST, RunDir

SCHEMA_VERSION = 2
# Version 1: the same fields, before `schema_version` was recorded; `outputs` and `nondeterministic`
# may be absent (written before those were recorded), so they have defaults.


class ManifestError(UserError, ValueError):
    """A manifest that this warmray cannot read; the message names the file and what to do."""


class OutdatedManifest(ManifestError):
    """A manifest in a format older than any this warmray reads: the stage that wrote it must be redone."""

    def __init__(self, folder: Path, why: str) -> None:
        self.why = why  # the reason alone, for the line that says the stage is redone
        super().__init__(
            f"{folder / MANIFEST} {why}; rerun the stage {folder.name!r} (`warmray run` redoes it)."
        )


class KeyParts(BaseModel):
    """What a stage's identity (its key) is made of; a change in any part reruns or refuses the stage."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    config: str = Field(
        description="Hash of the config sections whose change refuses the stage (Stage.experiment_sections)."
    )
    inputs: dict[str, str] = Field(description="Output id of each earlier stage it read, by stage name.")
    files: dict[str, str] = Field(
        default_factory=dict, description="Content hash of each prompt or data file it read, by path."
    )


class Manifest(BaseModel):
    """One committed stage: identity, outputs, config, row counts, package versions, timing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: int = Field(SCHEMA_VERSION, description="Format version of this record.")
    stage: str = Field(description="The stage's name (its folder in the run directory).")
    key: str = Field(description="Hash of key_parts: the stage's identity.")
    key_parts: KeyParts
    output_id: str = Field(
        description="Identity of this commit of the output; new on every commit, so that stages reading "
        "it see that it changed."
    )
    outputs: dict[str, tuple[int, str]] = Field(
        default_factory=dict,
        description="Each committed file (relative path) → (size, content hash), to notice later damage.",
    )
    config_sections: dict[str, Any] = Field(description="The config sections the stage read, as run.")
    overrides: list[str] = Field(default_factory=list, description="The command line's --set overrides.")
    rows: dict[str, int] = Field(default_factory=dict, description="Row count of each table written.")
    versions: dict[str, str] = Field(
        default_factory=dict,
        description="Versions of the packages that shape results, in the stage's process.",
    )
    nondeterministic: str = Field(
        "", description="What of the output may differ in a rerun, and why; empty when nothing should."
    )
    started: str = Field(description="Local start time, ISO 8601 to the second.")
    seconds: float = Field(description="Wall-clock seconds the stage ran.")


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """Write `folder`'s manifest atomically (a temporary file renamed), so a kill leaves none or all of it."""
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(manifest.model_dump_json(indent=2))
    os.replace(tmp, folder / MANIFEST)


def read_manifest(folder: Path) -> Manifest:
    """The manifest of a stage folder (committed, or partial during a commit).

    Raises:
        OutdatedManifest: it is older than any format this warmray reads, or not a manifest (redo the stage).
        ManifestError: it was written by a newer warmray.
        FileNotFoundError: the folder holds no manifest (the stage has not finished).
    """
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise OutdatedManifest(folder, f"is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise OutdatedManifest(folder, "is not a stage manifest")
    version = data.get("schema_version", 1)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise ManifestError(
            f"{path} has schema_version {version!r}, newer than this warmray reads (up to {SCHEMA_VERSION}): "
            "it was written by a newer warmray. Upgrade warmray, or use another --run-dir."
        )
    try:
        return Manifest.model_validate({**data, "schema_version": SCHEMA_VERSION})
    except ValidationError as exc:
        fields = ", ".join(sorted({str(e["loc"][0]) for e in exc.errors() if e["loc"]}))
        raise OutdatedManifest(
            folder,
            f"is from an older warmray (schema_version {version}) and cannot be read (fields: {fields})",
        ) from None


def recorded_versions(rundir: RunDir, stages: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """The package versions each finished stage of `stages` recorded, stages with the same versions joined.

    Keyed by stage names ("grid, generate, judge"), so a report says which process made which rows
    rather than the versions of the process that reads them.
    """
    groups: dict[str, list[str]] = {}
    found: dict[str, dict[str, str]] = {}
    for stage in stages:
        if rundir.finished(stage):
            versions = read_manifest(rundir.stage(stage)).versions
            key = json.dumps(versions, sort_keys=True)
            groups.setdefault(key, []).append(stage)
            found[key] = versions
    return {", ".join(names): found[key] for key, names in groups.items()}
