import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from warmray import stage as stage_module
from warmray.config import load_config
from warmray.manifest import read_manifest
from warmray.prompt_files import read_prompt
from warmray.rundir import RunDir, RunDirBusy
from warmray.stage import FAILED_REQUESTS, MANIFEST, Stage, StageContext, StageError, decide, run_stage

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def ctx(tmp_path):
    return StageContext(load_config(ROOT / "configs" / "tiny.yaml"), tmp_path)


def counting_stage(calls: list, fail_after_first_shard: bool = False) -> Stage:
    def run(ctx, out: Path) -> dict[str, int]:
        calls.append(out)
        for shard in range(3):
            path = out / f"part-{shard}.parquet"
            if path.exists():
                continue  # a resumed attempt skips finished shards
            pd.DataFrame({"x": [shard]}).to_parquet(path)
            if fail_after_first_shard and shard == 0:
                raise KeyboardInterrupt("killed")
        return {"parts": 3}

    return Stage("demo", run, sections=("judge",), uses_ray=False)


def test_a_finished_stage_is_committed_with_a_manifest_and_not_rerun(ctx):
    calls = []
    first = run_stage(counting_stage(calls), ctx)
    second = run_stage(counting_stage(calls), ctx)
    assert not first.skipped and second.skipped
    assert len(calls) == 1
    manifest = read_manifest(ctx.run_dir / "demo")
    assert manifest.rows == {"parts": 3}
    assert "ray" in manifest.versions and manifest.config_sections["judge"]["grader"] == "reference"
    assert not (ctx.run_dir / ".demo.partial").exists()


def test_an_interrupted_stage_resumes_from_its_finished_shards(ctx):
    with pytest.raises(KeyboardInterrupt):
        run_stage(counting_stage([], fail_after_first_shard=True), ctx)
    assert not (ctx.run_dir / "demo").exists()
    partial = ctx.run_dir / ".demo.partial" / "part-0.parquet"
    before = partial.stat().st_mtime_ns
    run_stage(counting_stage([]), ctx)
    out = ctx.run_dir / "demo"
    assert sorted(p.name for p in out.glob("*.parquet")) == [
        "part-0.parquet",
        "part-1.parquet",
        "part-2.parquet",
    ]
    assert (out / "part-0.parquet").stat().st_mtime_ns == before  # reused, not redone


def test_a_changed_config_under_a_finished_stage_is_an_error_naming_the_fix(ctx):
    run_stage(counting_stage([]), ctx)
    changed = ctx.config.model_copy(update={"judge": ctx.config.judge.model_copy(update={"grader": "llm"})})
    with pytest.raises(StageError, match="--force"):
        run_stage(counting_stage([]), StageContext(changed, ctx.run_dir))
    assert not run_stage(counting_stage([]), StageContext(changed, ctx.run_dir), force=True).skipped


def test_changing_how_requests_are_sent_keeps_a_finished_stage_and_an_interrupted_attempt(ctx):
    tiny = ROOT / "configs" / "tiny.yaml"
    sent = ["judge.engine.request_tries=9", "judge.engine.max_failed_fraction=0.5", "judge.engine.qps=2"]
    resent = StageContext(load_config(tiny, sent), ctx.run_dir)
    with pytest.raises(KeyboardInterrupt):
        run_stage(counting_stage([], fail_after_first_shard=True), ctx)
    before = (ctx.run_dir / ".demo.partial" / "part-0.parquet").stat().st_mtime_ns
    run_stage(counting_stage([]), resent)  # resumes the attempt: its finished shard is kept
    assert (ctx.run_dir / "demo" / "part-0.parquet").stat().st_mtime_ns == before
    assert decide(counting_stage([]), ctx).action == "skip"
    longer = StageContext(load_config(tiny, ["judge.engine.max_model_len=512"]), ctx.run_dir)
    with pytest.raises(StageError, match="different config"):  # what an answer is still counts
        decide(counting_stage([]), longer)


def test_a_manifest_holding_the_older_identity_of_the_same_config_is_still_finished(ctx):
    run_stage(counting_stage([]), ctx)
    path = ctx.run_dir / "demo" / MANIFEST
    manifest = json.loads(path.read_text())
    manifest["key_parts"]["config"] = ctx.config.section_hash("judge")  # as written before identity_hash
    path.write_text(json.dumps(manifest))
    assert decide(counting_stage([]), ctx).action == "skip"


def test_reading_an_unfinished_input_stage_says_what_to_run(ctx):
    with pytest.raises(StageError, match="warmray grid"):
        ctx.input_dir("grid")


def reading_stage(name: str, prompt: Path, needs: tuple[str, ...] = (), calls: list | None = None) -> Stage:
    """A stage that reads one prompt file (by path) and writes what it read."""

    def run(ctx, out: Path) -> dict[str, int]:
        (calls if calls is not None else []).append(name)
        (out / "text.txt").write_text(read_prompt(str(prompt)))
        (out / ".scratch").mkdir()
        (out / ".scratch" / "shard.parquet").write_text("engine shard")
        return {"rows": 1}

    return Stage(name, run, sections=("judge",), needs=needs, uses_ray=False)


def test_editing_a_prompt_file_redoes_the_stages_that_read_it_and_those_downstream_only(ctx, tmp_path):
    judge_txt, other_txt = tmp_path / "judge.txt", tmp_path / "other.txt"
    judge_txt.write_text("grade this")
    other_txt.write_text("something else")
    calls: list[str] = []
    stages = [
        reading_stage("a", judge_txt, calls=calls),
        reading_stage("b", other_txt, needs=("a",), calls=calls),
        reading_stage("c", other_txt, calls=calls),
    ]
    for s in stages:
        run_stage(s, ctx)
    manifest = read_manifest(ctx.run_dir / "a")
    assert str(judge_txt.resolve()) in manifest.key_parts.files  # the manifest lists what went in
    judge_txt.write_text("grade this, strictly")
    assert decide(stages[0], ctx).reason == "file(s) it read changed: judge.txt"
    calls.clear()
    results = [run_stage(s, ctx) for s in stages]
    assert calls == ["a", "b"] and [r.skipped for r in results] == [False, False, True]
    assert (ctx.run_dir / "a" / "text.txt").read_text() == "grade this, strictly"


def test_a_forced_upstream_stage_invalidates_the_stages_that_read_it(ctx, tmp_path):
    prompt = tmp_path / "p.txt"
    prompt.write_text("x")
    a, b = reading_stage("a", prompt), reading_stage("b", prompt, needs=("a",))
    run_stage(a, ctx)
    run_stage(b, ctx)
    before = read_manifest(ctx.run_dir / "a").output_id
    run_stage(a, ctx, force=True)
    assert read_manifest(ctx.run_dir / "a").output_id != before
    assert decide(b, ctx).action == "redo" and "a" in decide(b, ctx).reason
    assert not run_stage(b, ctx).skipped


def test_a_committed_table_truncated_on_disk_is_noticed_and_redone_with_what_reads_it(ctx, tmp_path):
    prompt = tmp_path / "p.txt"
    prompt.write_text("x")
    calls: list = []
    table_stage, reader = counting_stage(calls), reading_stage("b", prompt, needs=("demo",))
    run_stage(table_stage, ctx)
    run_stage(reader, ctx)
    manifest = read_manifest(ctx.run_dir / "demo")
    assert set(manifest.outputs) == {"part-0.parquet", "part-1.parquet", "part-2.parquet"}
    table = ctx.run_dir / "demo" / "part-1.parquet"
    assert manifest.outputs["part-1.parquet"][0] == table.stat().st_size
    table.write_bytes(table.read_bytes()[: table.stat().st_size // 2])  # a half-copied file
    decision = decide(table_stage, ctx)
    assert (decision.action, decision.reason) == ("redo", "output changed on disk: part-1.parquet")
    assert not run_stage(table_stage, ctx).skipped and len(calls) == 2
    assert pd.read_parquet(table)["x"].tolist() == [1]  # whole again
    assert decide(reader, ctx).action == "redo" and not run_stage(reader, ctx).skipped
    assert decide(table_stage, ctx).action == decide(reader, ctx).action == "skip"


def test_a_deleted_or_edited_committed_file_is_redone_and_a_manifest_without_outputs_is_trusted(ctx):
    run_stage(counting_stage([]), ctx)
    (ctx.run_dir / "demo" / "part-0.parquet").unlink()
    assert decide(counting_stage([]), ctx).reason == "output changed on disk: part-0.parquet"
    run_stage(counting_stage([]), ctx)
    path = ctx.run_dir / "demo" / "part-2.parquet"
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF  # same size, other bytes
    path.write_bytes(bytes(data))
    assert decide(counting_stage([]), ctx).reason == "output changed on disk: part-2.parquet"
    manifest_path = ctx.run_dir / "demo" / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    del manifest["outputs"]  # a run directory committed before outputs were recorded
    manifest_path.write_text(json.dumps(manifest))
    assert decide(counting_stage([]), ctx).action == "skip"


def test_scratch_folders_never_enter_a_committed_stage(ctx, tmp_path):
    prompt = tmp_path / "p.txt"
    prompt.write_text("x")
    run_stage(reading_stage("a", prompt), ctx)
    committed = [p.name for p in (ctx.run_dir / "a").rglob("*")]
    assert sorted(committed) == [MANIFEST, "text.txt"]


def answering_stage(failing: set[str], asked: list[str]) -> Stage:
    """A stage that asks an endpoint for three rows, keeps the answers it has and sets failed ones aside
    (their ids in `failed.txt`), as generate and judge do; `failing` are the rows whose request fails."""

    def run(ctx, out: Path) -> dict[str, int]:
        answers = out / "answers.parquet"
        have = pd.read_parquet(answers) if answers.is_file() else pd.DataFrame({"row": [], "answer": []})
        todo = [r for r in ("r1", "r2", "r3") if r not in set(have["row"])]
        asked.extend(todo)
        ok = [r for r in todo if r not in failing]
        have = pd.concat([have, pd.DataFrame({"row": ok, "answer": [f"answer {r}" for r in ok]})])
        have.sort_values("row").to_parquet(answers)
        lost = [r for r in todo if r in failing]
        (out / "failed.txt").write_text("\n".join(lost))
        return {"answers": len(have), **({FAILED_REQUESTS: len(lost)} if lost else {})}

    return Stage("ask", run, sections=("judge",), uses_ray=False)


def test_a_stage_with_failed_requests_is_skipped_and_retried_on_request_asking_only_those(ctx, tmp_path):
    prompt = tmp_path / "p.txt"
    prompt.write_text("x")
    asked: list[str] = []
    run_stage(answering_stage({"r2"}, asked), ctx)
    reader = reading_stage("b", prompt, needs=("ask",))
    run_stage(reader, ctx)
    assert read_manifest(ctx.run_dir / "ask").rows == {"answers": 2, FAILED_REQUESTS: 1}
    decision = decide(answering_stage(set(), asked), ctx)
    assert decision.action == "skip" and "1 failed endpoint request(s) set aside: --retry-failed" in (
        decision.reason
    )
    assert run_stage(answering_stage(set(), asked), ctx).skipped and asked == ["r1", "r2", "r3"]

    before = read_manifest(ctx.run_dir / "ask").output_id
    retried = answering_stage(set(), asked)
    assert decide(retried, ctx, retry_failed=True).action == "retry"
    assert not run_stage(retried, ctx, retry_failed=True).skipped
    assert asked[3:] == ["r2"]  # from a copy of the committed output: only the failed request again
    manifest = read_manifest(ctx.run_dir / "ask")
    assert manifest.rows == {"answers": 3} and manifest.output_id != before
    answers = pd.read_parquet(ctx.run_dir / "ask" / "answers.parquet")
    assert answers["row"].tolist() == ["r1", "r2", "r3"]
    assert decide(reader, ctx).action == "redo"  # what read the retried stage is stale
    assert decide(retried, ctx, retry_failed=True).action == "skip"  # nothing left to retry


@pytest.mark.parametrize(
    "step", ["manifest written", "attempt marker removed", "old output moved aside", "new output in place"]
)
def test_a_kill_at_any_step_of_a_commit_leaves_the_old_or_the_new_output(ctx, tmp_path, monkeypatch, step):
    prompt = tmp_path / "p.txt"
    prompt.write_text("old")
    run_stage(reading_stage("a", prompt), ctx)
    prompt.write_text("new")

    def die(name):
        if name == step:
            raise KeyboardInterrupt(f"killed after: {name}")

    monkeypatch.setattr(stage_module, "_step", die)
    with pytest.raises(KeyboardInterrupt):
        run_stage(reading_stage("a", prompt), ctx)
    final = ctx.run_dir / "a"
    old_copy = ctx.run_dir / ".a.old"
    # Right after the kill, one complete output exists: in place, or moved aside with the new one ready.
    assert (final / MANIFEST).is_file() or (
        (old_copy / MANIFEST).is_file() and (ctx.run_dir / ".a.partial" / MANIFEST).is_file()
    )
    monkeypatch.setattr(stage_module, "_step", lambda name: None)
    result = run_stage(reading_stage("a", prompt), ctx)  # recovers, and ends with the new output
    assert (final / "text.txt").read_text() == "new"
    assert not old_copy.exists() and not (ctx.run_dir / ".a.partial").exists()
    assert result.rows == {"rows": 1}


def test_a_second_command_on_a_locked_run_dir_is_refused_naming_the_holder(tmp_path):
    rundir = RunDir(tmp_path / "run")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from warmray.rundir import RunDir\n"
            "with RunDir(Path(sys.argv[1])).locked():\n    print('locked', flush=True); time.sleep(60)",
            str(rundir.root),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked", holder.stderr.read()
        with pytest.raises(RunDirBusy, match=f"pid {holder.pid}"):
            with rundir.locked():
                pass
    finally:
        holder.kill()
        holder.wait()
    with rundir.locked():  # the kernel released the dead holder's lock: no stale lock
        pass


def test_a_stage_starts_ray_only_when_its_config_needs_it(ctx, monkeypatch):
    started = []
    monkeypatch.setattr("warmray.runtime.ensure_ray", lambda cfg: started.append(cfg))
    needs_ray = Stage("demo", counting_stage([]).run, sections=("judge",), uses_ray=lambda c: c.seed == 1)
    run_stage(needs_ray, ctx)
    assert started == []
    seeded = StageContext(ctx.config.model_copy(update={"seed": 1}), ctx.run_dir)
    run_stage(needs_ray, seeded, force=True)
    assert started == [ctx.config.ray]


def test_the_grid_starts_ray_only_to_ask_an_llm_for_wrong_answers(ctx):
    from warmray.pipeline import STAGES

    grid = next(s for s in STAGES if s.name == "grid")
    assert not grid.needs_ray(ctx.config)  # tiny.yaml: the items' own wrong answers
    asks = ctx.config.grid.model_copy(update={"wrong_answer_model": "builtin:tiny-random"})
    assert grid.needs_ray(ctx.config.model_copy(update={"grid": asks}))
