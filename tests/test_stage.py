import json
from pathlib import Path

import pandas as pd
import pytest

from warmray.config import load_config
from warmray.stage import MANIFEST, Stage, StageContext, StageError, run_stage

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
    manifest = json.loads((ctx.run_dir / "demo" / MANIFEST).read_text())
    assert manifest["rows"] == {"parts": 3}
    assert "ray" in manifest["versions"] and manifest["config_sections"]["judge"]["grader"] == "reference"
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


def test_reading_an_unfinished_input_stage_says_what_to_run(ctx):
    with pytest.raises(StageError, match="warmray grid"):
        ctx.input_dir("grid")
