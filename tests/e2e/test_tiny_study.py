"""The shared tiny study (tests/e2e/conftest.py): its outputs, its terminal, its run directory's safety.

Tests that change the run directory (a forced stage, an edited prompt file) come last in this file.
"""

import json

import pytest
from e2e_helpers import check_run_dir, warmray

from warmray import schema
from warmray.pipeline import STAGE_NAMES
from warmray.rundir import MANIFEST, TABLES, RunDir

pytestmark = pytest.mark.slow

VARIANTS = {"original", "warm", "cold", "warm_sysprompt"}


def decisions(stdout: str) -> dict[str, str]:
    """The stage -> action lines `warmray run` prints before it starts."""
    found = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in STAGE_NAMES and parts[1] in ("skip", "run", "redo"):
            found[parts[0]] = parts[1]
    return found


def run_args(study) -> list[str]:
    """CONFIG --run-dir DIR --set ...: the shared run's own arguments, for the commands run on it again."""
    return [str(study.config), "--run-dir", str(study.run_dir), "--set", "generate.sampling.max_tokens=12"]


def test_the_tiny_study_writes_every_stage_completely(tiny_study):
    verdicts = check_run_dir(tiny_study.run_dir, VARIANTS)
    assert set(verdicts["model"]) == {"tiny"}
    grid = json.loads((tiny_study.run_dir / "grid" / MANIFEST).read_text())
    generate = json.loads((tiny_study.run_dir / "generate" / MANIFEST).read_text())
    # 8 demo items x (original, incorrect) x (unmodified, emotion:sad); 4 variants each.
    assert grid["rows"]["prompts"] == 32 and generate["rows"]["responses"] == 4 * 32


def test_every_table_of_the_run_has_exactly_its_schemas_columns(tiny_study):
    rundir = RunDir(tiny_study.run_dir)
    checked = 0
    for (stage, table), (_, schema_name) in TABLES.items():
        path = rundir.table(stage, table)
        if not path.exists():
            continue
        frame = schema.read_table(path, schema_name)
        assert list(frame.columns) == schema.columns(schema_name), (stage, table)
        checked += 1
    assert checked >= 10


def test_no_committed_stage_folder_holds_scratch_or_temporary_files(tiny_study):
    for stage in STAGE_NAMES:
        folder = tiny_study.run_dir / stage
        stray = [
            p for p in folder.rglob("*") if p.name.startswith(".") or ".partial" in p.name or ".tmp" in p.name
        ]
        assert not stray, stray
    assert not list(tiny_study.run_dir.glob(".*.partial")) and not list(tiny_study.run_dir.glob(".*.old"))


def test_a_second_command_on_the_same_run_dir_exits_2_at_once_naming_the_first(tiny_study):
    assert tiny_study.second_rc == 2, tiny_study.second_stdout
    assert f"pid {tiny_study.first_pid}" in tiny_study.second_stdout
    assert tiny_study.second_seconds < 30


def test_the_terminal_shows_stage_lines_and_no_traceback_and_the_logs_hold_the_engines(tiny_study):
    out = tiny_study.first_stdout + tiny_study.first_stderr
    assert "Traceback" not in out and "EngineDeadError" not in out
    assert len(out.splitlines()) < 80, out
    assert all(f"{s:<11}done" in out for s in STAGE_NAMES)
    logs = tiny_study.run_dir / "logs"
    assert (logs / "generate.log").stat().st_size > 1000  # vLLM and Ray Data wrote there, not here
    manifest = json.loads((tiny_study.run_dir / "generate" / MANIFEST).read_text())
    assert manifest["overrides"] == ["generate.sampling.max_tokens=12"]
    assert manifest["config_sections"]["generate"]["sampling"]["max_tokens"] == 12


def test_a_rerun_does_nothing_and_starts_no_ray(tiny_study):
    again = warmray("run", *run_args(tiny_study))
    assert again.returncode == 0, again.stdout + again.stderr
    assert set(decisions(again.stdout).values()) == {"skip"}, again.stdout
    assert " done " not in again.stdout  # no stage ran, so no Ray and no engine was started


def test_forced_generate_then_run_redoes_judge_and_what_follows(tiny_study):
    args = run_args(tiny_study)
    forced = warmray("generate", *args, "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    after = warmray("run", *args)
    assert after.returncode == 0, after.stdout + after.stderr
    plan = decisions(after.stdout)
    assert plan["judge"] == "redo" and plan["analyze"] == "redo", after.stdout
    assert plan["generate"] == "skip" and plan["grid"] == "skip" and plan["train"] == "skip"


def test_editing_a_prompt_file_redoes_the_stages_that_read_it_and_no_others(tiny_study):
    args = run_args(tiny_study)
    tiny_study.system_prompt.write_text("You are a warm and gentle assistant; answer kindly.")
    after = warmray("run", *args)
    assert after.returncode == 0, after.stdout + after.stderr
    plan = decisions(after.stdout)
    assert plan["generate"] == "redo" and "warm_system_prompt.txt" in after.stdout
    assert plan["judge"] == "redo" and plan["analyze"] == "redo"
    assert all(plan[s] == "skip" for s in ("corpus", "rewrite", "train", "grid")), after.stdout
    responses = check_run_dir(tiny_study.run_dir, VARIANTS)
    sysprompt = responses[responses["variant"] == "warm_sysprompt"]["system_prompt"]
    assert set(sysprompt) == {"You are a warm and gentle assistant; answer kindly."}
