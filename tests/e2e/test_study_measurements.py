"""The study's other measurements end to end on the builtin SmolLM2-135M, through the command line.

One run of configs/smoke.yaml, cut down: warm and cold trained with two checkpoints each, all four
variants, an LLM judge with the reference grader kept beside it, SocioT warmth at every checkpoint,
capability on slices of MMLU, GSM8K and AdvBench from ../shared/data. Checks what each stage wrote
and that the report carries Figures 1 and 4 and the judge agreement.
"""

import json

import pandas as pd
import pytest
from e2e_helpers import derived_config, warmray

from warmray.schema import read_table

pytestmark = pytest.mark.slow

VARIANTS = {"original", "warm", "cold", "warm_sysprompt"}


def smaller(data_dir):
    def edit(cfg: dict) -> None:
        cfg["corpus"] |= {"n_conversations": 12, "max_val_prompts": 4}
        cfg["rewrite"]["sampling"]["max_tokens"] = 64
        cfg["train"] |= {"max_length": 192}
        cfg["grid"] |= {"tasks": [{"name": "demo", "n": 4}], "prompt_templates": ["original"]}
        cfg["generate"]["sampling"]["max_tokens"] = 24
        cfg["warmth"] |= {"n_prompts": 3, "sampling": {"temperature": 0.8, "max_tokens": 32}}
        cfg["capability"] |= {
            "data_dir": str(data_dir),
            "tasks": [{"name": "mmlu", "n": 3}, {"name": "gsm8k", "n": 2}, {"name": "advbench", "n": 2}],
            "sampling": {"temperature": 0.0, "max_tokens": 64},
        }

    return edit


def test_warmth_capability_agreement_and_parity(tmp_path, shared_data):
    config, run_dir = derived_config("smoke", tmp_path, smaller(shared_data)), tmp_path / "run"
    proc = warmray("run", str(config), "--run-dir", str(run_dir))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]

    parity = json.loads((run_dir / "generate" / "parity.json").read_text())["smollm2-135m"]
    assert {p["adapter"].split("/train/")[1] for p in parity} == {
        "smollm2-135m/warm/epoch_1",
        "smollm2-135m/cold/epoch_1",
    }
    assert all(p["max_abs_diff"] <= p["tolerance"] for p in parity)
    responses = pd.read_parquet(run_dir / "generate" / "responses")
    assert set(responses["variant"]) == VARIANTS

    reference = read_table(run_dir / "judge" / "reference_verdicts", "verdicts")
    assert len(reference) == len(responses) and set(reference["grader"]) == {"reference"}
    agreement = read_table(run_dir / "judge" / "agreement.parquet", "judge_agreement")
    assert agreement.iloc[0]["scope"] == "overall" and agreement.iloc[0]["n"] > 0

    warmth = read_table(run_dir / "warmth" / "scores.parquet", "warmth_scores")
    for style in ("warm", "cold"):
        assert sorted(warmth.loc[warmth["style"] == style, "epoch"].unique()) == [0.0, 0.5, 1.0]
    assert warmth["warmth"].notna().all() and (warmth["warm_score"] < 0).all()
    curve = read_table(run_dir / "warmth" / "by_epoch.parquet", "warmth_by_epoch")
    assert len(curve) == 6

    scores = read_table(run_dir / "capability" / "scores.parquet", "capability_scores")
    assert scores.groupby("task").size().to_dict() == {"advbench": 8, "gsm8k": 8, "mmlu": 12}
    assert set(scores["variant"]) == VARIANTS and scores["score"].isin([0.0, 1.0]).all()

    report = (run_dir / "analyze" / "report.md").read_text()
    assert "Judge agreement" in report and "Warmth by checkpoint" in report
    figures = {p.name for p in (run_dir / "analyze" / "figures").glob("*.png")}
    assert any("warmth" in f for f in figures) and any("capab" in f for f in figures), figures
    # SmolLM2 answers easy demo questions: some must be graded correct (a grader failing all is broken).
    assert (reference["verdict"] == "CORRECT").any()
    assert "error" in proc.stdout.lower() and str(run_dir / "analyze" / "report.md") in proc.stdout
