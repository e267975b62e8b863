"""A response whose judge request failed gets no verdict: set aside with its error, never UNPARSEABLE."""

import json

import pandas as pd
from test_keep_reference import responses

from warmray import infer
from warmray.config import ExperimentConfig
from warmray.infer.failures import REQUEST_FAILED
from warmray.schema import UNPARSEABLE, read_table, write_table
from warmray.stage import StageContext
from warmray.stages.judge import grading


def test_a_failed_judge_request_is_set_aside_not_graded(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    (run_dir / "generate").mkdir(parents=True)
    (run_dir / "generate" / "manifest.json").write_text(json.dumps({"stage": "generate"}))
    write_table(responses(20), run_dir / "generate" / "responses" / "m.parquet", "responses")

    def fake_answer(asks, key, folder, model, engine, sampling, *, label):
        failed = asks[key] == "m|original|demo:3"
        return pd.DataFrame(
            {
                key: asks[key],
                "generated_text": ["" if f else "CORRECT" for f in failed],
                "inference_error": [REQUEST_FAILED + "HTTP 500: boom" if f else "" for f in failed],
            }
        )

    monkeypatch.setattr(infer, "answer", fake_answer)
    config = ExperimentConfig.model_validate(
        {"models": [{"name": "m", "source": "builtin:tiny-random"}], "judge": {"grader": "llm"}}
    )
    out = tmp_path / "out"
    out.mkdir()
    counts = grading.run(StageContext(config, run_dir), out)
    assert counts["verdicts"] == 19 and counts["failed_requests"] == 1
    verdicts = read_table(out / "verdicts", "verdicts")
    assert "m|original|demo:3" not in set(verdicts["response_id"])
    assert UNPARSEABLE not in set(verdicts["verdict"])
    set_aside = read_table(out / "failed_requests" / "m.parquet", "rejects")
    assert list(set_aside["row_id"]) == ["m|original|demo:3"]
    assert list(set_aside["detail"]) == ["HTTP 500: boom"]
