"""The judge stage with an LLM judge keeps the reference grader's verdicts and their agreement beside it.

The LLM judge itself is replaced by a stand-in (its engine path is tested elsewhere): this checks the
stage's wiring, the tables it writes and that they read back under their schemas.
"""

import json
from dataclasses import replace

import pandas as pd

from warmray.config import ExperimentConfig
from warmray.grading import Graded, grader_for, registry
from warmray.grading.reference import grade_by_reference
from warmray.schema import CORRECT, INCORRECT, columns, read_table, write_table
from warmray.stage import StageContext
from warmray.stages.judge import grading


def responses(n: int) -> pd.DataFrame:
    rows = []
    for i in range(n):
        row = {c: "" for c in columns("responses")} | {"question_form": "as_given"}
        row |= {
            "prompt_id": f"demo:{i}|original|unmodified",
            "item_id": f"demo:{i}",
            "task": "demo",
            "prompt_template": "original",
            "amendment_type": "unmodified",
            "question": f"q{i}",
            "correct_answers": ["paris"],
            "incorrect_answers": ["lyon"],
            "response_id": f"m|original|demo:{i}",
            "model": "m",
            "variant": "original",
            "response": "It is Paris." if i % 2 else "It is Lyon.",
            "num_input_tokens": 1,
            "num_generated_tokens": 1,
        }
        rows.append(row)
    return pd.DataFrame(rows)


def test_llm_judge_keeps_reference_verdicts_and_agreement(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    (run_dir / "generate").mkdir(parents=True)
    (run_dir / "generate" / "manifest.json").write_text(json.dumps({"stage": "generate"}))
    write_table(responses(8), run_dir / "generate" / "responses" / "m.parquet", "responses")

    def fake_llm(frame, judge, scratch):
        # Agrees with the reference grader on all but the first row.
        out = grade_by_reference(frame, judge, scratch).verdicts
        out.loc[0, "verdict"] = CORRECT if out.loc[0, "verdict"] == INCORRECT else INCORRECT
        return Graded(out.assign(grader="llm:stand-in"))

    monkeypatch.setitem(registry._GRADERS, "llm", replace(grader_for("llm"), grade=fake_llm))
    config = ExperimentConfig.model_validate(
        {"models": [{"name": "m", "source": "builtin:tiny-random"}], "judge": {"grader": "llm"}}
    )
    out = tmp_path / "out"
    out.mkdir()
    counts = grading.run(StageContext(config, run_dir), out)
    assert counts["verdicts"] == 8 and counts["agreement"] == 3  # overall, the task, the variant
    reference = read_table(out / "reference_verdicts", "verdicts")
    assert set(reference["grader"]) == {"reference"} and len(reference) == 8
    table = read_table(out / "agreement.parquet", "judge_agreement")
    overall = table[table["scope"] == "overall"].iloc[0]
    assert overall["n"] == 8 and overall["agreement"] == 7 / 8


def test_reference_grader_alone_writes_no_second_table(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "generate").mkdir(parents=True)
    (run_dir / "generate" / "manifest.json").write_text(json.dumps({"stage": "generate"}))
    write_table(responses(2), run_dir / "generate" / "responses" / "m.parquet", "responses")
    config = ExperimentConfig.model_validate({"models": [{"name": "m", "source": "builtin:tiny-random"}]})
    out = tmp_path / "out"
    out.mkdir()
    counts = grading.run(StageContext(config, run_dir), out)
    assert "agreement" not in counts and not (out / "reference_verdicts").exists()
