"""Graders are chosen by name from warmray.grading's registry: a registered grader is a valid
`judge.grader` and grades through the judge stage with no other file edited."""

import json

import pandas as pd
import pytest
from always_correct_grader import GRADER
from pydantic import ValidationError

from warmray.config import ExperimentConfig, JudgeConfig
from warmray.grading import grade, grader_for, grader_names, register, registry
from warmray.schema import CORRECT, INCORRECT, REFUSAL, UNPARSEABLE, columns, read_table, write_table
from warmray.stage import StageContext
from warmray.stages.judge import run

MODELS = [{"name": "m", "source": "builtin:tiny-random"}]


@pytest.fixture
def third_grader(monkeypatch):
    """The test grader registered for one test (the registry is restored after it)."""
    monkeypatch.setattr(registry, "_GRADERS", dict(registry._GRADERS))
    return register(GRADER)


def responses(texts: list[str], errors: list[str] | None = None) -> pd.DataFrame:
    """Responses to "capital of France?" in the `responses` table's columns."""
    rows = []
    for i, text in enumerate(texts):
        row = {c: "" for c in columns("responses")} | {"question_form": "as_given"}
        row |= {
            "prompt_id": f"demo:{i}|original|unmodified",
            "item_id": f"demo:{i}",
            "task": "demo",
            "prompt_template": "original",
            "amendment_type": "unmodified",
            "question": "What is the capital of France?",
            "correct_answers": ["Paris"],
            "incorrect_answers": ["Lyon"],
            "response_id": f"m|original|demo:{i}",
            "model": "m",
            "variant": "original",
            "response": text,
            "inference_error": (errors or [""] * len(texts))[i],
            "num_input_tokens": 1,
            "num_generated_tokens": 1,
        }
        rows.append(row)
    return pd.DataFrame(rows)


def test_the_shipped_graders_and_what_they_need():
    assert grader_names() == ("reference", "llm")
    assert not grader_for("reference").needs_engine and grader_for("llm").needs_engine
    assert grader_for("llm").reference_beside and not grader_for("reference").reference_beside


def test_an_unregistered_grader_is_refused_naming_the_registered_ones():
    with pytest.raises(ValidationError, match="unknown grader 'always_correct'.*reference, llm"):
        ExperimentConfig.model_validate({"models": MODELS, "judge": {"grader": "always_correct"}})


def test_a_registered_grader_is_a_valid_judge_grader(third_grader):
    config = ExperimentConfig.model_validate({"models": MODELS, "judge": {"grader": "always_correct"}})
    assert config.judge.grader == "always_correct" and "always_correct" in grader_names()
    with pytest.raises(ValueError, match="already registered"):
        register(GRADER)


def test_the_library_applies_refusal_and_failed_generation_rules_to_any_grader(third_grader, tmp_path):
    frame = responses(["It is Lyon.", "I can't help with that.", ""], ["", "", "prompt too long"])
    graded = grade(frame, JudgeConfig(grader="always_correct", keep_reference=False), tmp_path)
    assert list(graded.verdicts["verdict"]) == [CORRECT, REFUSAL, UNPARSEABLE]
    assert graded.verdicts["judge_raw"].iloc[2] == "generation failed: prompt too long"
    assert graded.reference is None and graded.failed.empty


def test_a_registered_grader_runs_through_the_judge_stage_with_the_reference_beside(third_grader, tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "generate").mkdir(parents=True)
    (run_dir / "generate" / "manifest.json").write_text(json.dumps({"stage": "generate"}))
    frame = responses(["It is Lyon.", "It is Paris.", "Lyon, I think."])
    write_table(frame, run_dir / "generate" / "responses" / "m.parquet", "responses")
    config = ExperimentConfig.model_validate({"models": MODELS, "judge": {"grader": "always_correct"}})
    out = tmp_path / "out"
    out.mkdir()
    counts = run(StageContext(config, run_dir), out)
    verdicts = read_table(out / "verdicts", "verdicts")
    assert counts["verdicts"] == 3 and set(verdicts["verdict"]) == {CORRECT}
    assert set(verdicts["grader"]) == {"always_correct"}
    reference = read_table(out / "reference_verdicts", "verdicts").sort_values("response_id")
    assert list(reference["verdict"]) == [INCORRECT, CORRECT, INCORRECT]
    assert counts["agreement"] > 0


def test_the_report_says_who_graded_in_the_registered_graders_words(third_grader):
    from warmray.report import config_info

    config = ExperimentConfig.model_validate({"models": MODELS, "judge": {"grader": "always_correct"}})
    info = config_info(config)
    assert (info["judge"], info["verdicts_from"]) == ("a grader that passes everything", "always_correct")
    kept = config.model_copy(update={"analyze": config.analyze.model_copy(update={"verdicts": "reference"})})
    assert config_info(kept)["verdicts_from"] == "reference"
