"""The stage manifest: one typed, versioned record, read and written by one function each."""

import json
from pathlib import Path

import pytest
from manifest_helpers import finish_stage

from warmray.config import load_config
from warmray.manifest import (
    SCHEMA_VERSION,
    KeyParts,
    Manifest,
    ManifestError,
    OutdatedManifest,
    read_manifest,
    recorded_versions,
    write_manifest,
)
from warmray.report import provenance
from warmray.rundir import MANIFEST, RunDir
from warmray.stage import Stage, StageContext, decide, run_stage

ROOT = Path(__file__).resolve().parents[1]

# A manifest as warmray wrote them before schema_version, outputs and nondeterministic were recorded.
VERSION_1 = {
    "stage": "demo",
    "key": "k",
    "key_parts": {"config": "c", "inputs": {}, "files": {}},
    "output_id": "abc-1",
    "config_sections": {"judge": {"grader": "reference"}},
    "overrides": [],
    "rows": {"parts": 3},
    "versions": {"vllm": "0.29.0"},
    "started": "2026-11-01T10:00:00",
    "seconds": 4.2,
}


@pytest.fixture
def ctx(tmp_path) -> StageContext:
    return StageContext(load_config(ROOT / "configs" / "tiny.yaml"), tmp_path)


def demo_stage(calls: list) -> Stage:
    def run(ctx: StageContext, out: Path) -> dict[str, int]:
        calls.append(out)
        (out / "part.txt").write_text("rows")
        return {"parts": 1}

    return Stage("demo", run, sections=("judge",), uses_ray=False)


def test_a_written_manifest_reads_back_as_the_same_record(tmp_path):
    manifest = Manifest(
        stage="generate",
        key="k",
        key_parts=KeyParts(config="c", inputs={"grid": "g-1"}, files={"/p.txt": "d"}),
        output_id="o-1",
        outputs={"responses/part-0.parquet": (120, "abc")},
        config_sections={"generate": {"variants": ["original"]}},
        rows={"responses": 12},
        versions={"vllm": "0.32.0"},
        started="2026-12-07T05:00:00",
        seconds=3.5,
    )
    write_manifest(tmp_path, manifest)
    assert json.loads((tmp_path / MANIFEST).read_text())["schema_version"] == SCHEMA_VERSION
    assert read_manifest(tmp_path) == manifest
    assert not list(tmp_path.glob(".*"))  # the temporary file was renamed into place


def test_a_manifest_without_a_schema_version_is_read_as_version_1(tmp_path):
    (tmp_path / MANIFEST).write_text(json.dumps(VERSION_1))
    manifest = read_manifest(tmp_path)
    assert manifest.rows == {"parts": 3} and manifest.versions == {"vllm": "0.29.0"}
    assert manifest.outputs == {} and manifest.nondeterministic == ""


def test_a_manifest_older_than_version_1_asks_to_rerun_the_stage(tmp_path):
    (tmp_path / MANIFEST).write_text(json.dumps({"stage": "demo", "config_hash": "h", "rows": {}}))
    with pytest.raises(OutdatedManifest, match="rerun the stage"):
        read_manifest(tmp_path)


def test_a_manifest_from_a_newer_warmray_is_refused_naming_the_upgrade(tmp_path):
    (tmp_path / MANIFEST).write_text(json.dumps({**VERSION_1, "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(ManifestError, match="Upgrade warmray") as raised:
        read_manifest(tmp_path)
    assert not isinstance(raised.value, OutdatedManifest)


def test_a_stage_with_an_unreadable_old_manifest_is_redone_not_crashed(ctx):
    calls: list = []
    run_stage(demo_stage(calls), ctx)
    (ctx.run_dir / "demo" / MANIFEST).write_text(json.dumps({"stage": "demo", "config_hash": "h"}))
    decision = decide(demo_stage(calls), ctx)
    assert decision.action == "redo" and "from an older warmray" in decision.reason
    assert not run_stage(demo_stage(calls), ctx).skipped and len(calls) == 2
    assert read_manifest(ctx.run_dir / "demo").schema_version == SCHEMA_VERSION


def test_a_version_1_manifest_still_skips_its_finished_stage(ctx):
    calls: list = []
    run_stage(demo_stage(calls), ctx)
    path = ctx.run_dir / "demo" / MANIFEST
    old = json.loads(path.read_text())
    for field in ("schema_version", "outputs", "nondeterministic"):
        del old[field]
    path.write_text(json.dumps(old))
    assert run_stage(demo_stage(calls), ctx).skipped and len(calls) == 1


def test_the_report_shows_the_versions_of_the_stage_that_made_the_rows(ctx, monkeypatch):
    finish_stage(ctx.run_dir / "generate", versions={"vllm": "0.1.0-generated"}, rows={"responses": 4})
    finish_stage(ctx.run_dir / "judge", versions={"vllm": "0.2.0-judged"})
    monkeypatch.setattr(provenance, "package_versions", lambda: {"vllm": "9.9.9-analysing"})
    versions = provenance.run_info(ctx)["versions"]
    assert versions["generate"] == {"vllm": "0.1.0-generated"}
    assert versions["judge"] == {"vllm": "0.2.0-judged"}
    assert versions["this analysis"] == {"vllm": "9.9.9-analysing"}


def test_stages_that_recorded_the_same_versions_are_named_together(tmp_path):
    for stage in ("grid", "generate"):
        finish_stage(tmp_path / stage, versions={"vllm": "0.32.0"})
    finish_stage(tmp_path / "judge", versions={"vllm": "0.33.0"})
    found = recorded_versions(RunDir(tmp_path), ("grid", "generate", "judge", "analyze"))
    assert found == {"grid, generate": {"vllm": "0.32.0"}, "judge": {"vllm": "0.33.0"}}
