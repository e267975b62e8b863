"""A response whose judge request failed gets no verdict: set aside with its error, never UNPARSEABLE."""

from failing_endpoint import FailingEndpoint
from manifest_helpers import finish_stage
from test_keep_reference import responses

from warmray import infer
from warmray.config import ExperimentConfig
from warmray.infer.failures import REQUEST_FAILED
from warmray.schema import UNPARSEABLE, read_table, write_table
from warmray.stage import StageContext
from warmray.stages.judge import grading


def judged_by(endpoint: FailingEndpoint, tmp_path, monkeypatch):
    """20 responses of model m (demo:5's generate request failed) and a judge stage run over them.

    Returns the rows, the stage's folder and a function that runs the stage there (its counts).
    """
    run_dir = tmp_path / "run"
    finish_stage(run_dir / "generate")
    rows = responses(20)
    rows.loc[5, ["response", "inference_error"]] = ["", REQUEST_FAILED + "HTTP 503 (after 5 tries)"]
    write_table(rows, run_dir / "generate" / "responses" / "m.parquet", "responses")
    monkeypatch.setattr(infer, "answer", endpoint)
    config = ExperimentConfig.model_validate(
        {"models": [{"name": "m", "source": "builtin:tiny-random"}], "judge": {"grader": "llm"}}
    )
    out = tmp_path / "out"
    out.mkdir()
    return rows, out, lambda: grading.run(StageContext(config, run_dir), out)


def test_a_failed_judge_request_is_set_aside_not_graded(tmp_path, monkeypatch):
    _, out, judge = judged_by(FailingEndpoint({"m|original|demo:3"}), tmp_path, monkeypatch)
    counts = judge()
    assert counts["verdicts"] == 18 and counts["failed_requests"] == 2
    verdicts = read_table(out / "verdicts", "verdicts")
    assert not {"m|original|demo:3", "m|original|demo:5"} & set(verdicts["response_id"])
    assert UNPARSEABLE not in set(verdicts["verdict"])
    set_aside = read_table(out / "failed_requests" / "m.parquet", "rejects").sort_values("row_id")
    assert list(set_aside["row_id"]) == ["m|original|demo:3", "m|original|demo:5"]
    assert list(set_aside["reason"]) == ["judge request failed", "generate request failed"]
    assert list(set_aside["detail"]) == ["HTTP 500: boom", "HTTP 503 (after 5 tries)"]


def test_a_retried_judge_asks_only_its_failed_requests_and_keeps_every_verdict_in_order(
    tmp_path, monkeypatch
):
    endpoint = FailingEndpoint({"m|original|demo:3", "m|original|demo:8"})
    rows, out, judge = judged_by(endpoint, tmp_path, monkeypatch)
    assert judge()["failed_requests"] == 3
    # A retry starts from a copy of the committed output (warmray.stage): the judge's scratch is gone.
    endpoint.down = set()
    counts = judge()
    assert endpoint.asked[1] == ["m|original|demo:3", "m|original|demo:8"]
    assert counts["verdicts"] == 19 and counts["failed_requests"] == 1  # the response generate lost
    verdicts = read_table(out / "verdicts", "verdicts")
    assert list(verdicts["response_id"]) == [r for r in rows["response_id"] if r != "m|original|demo:5"]
    set_aside = read_table(out / "failed_requests" / "m.parquet", "rejects")
    assert list(set_aside["row_id"]) == ["m|original|demo:5"]


def test_a_failed_generate_request_is_set_aside_by_the_reference_grader_too(tmp_path):
    run_dir = tmp_path / "run"
    finish_stage(run_dir / "generate")
    rows = responses(4)
    rows.loc[1, ["response", "inference_error"]] = ["", REQUEST_FAILED + "ConnectionRefusedError"]
    rows.loc[2, ["response", "inference_error"]] = ["", "prompt longer than the context"]
    write_table(rows, run_dir / "generate" / "responses" / "m.parquet", "responses")
    config = ExperimentConfig.model_validate({"models": [{"name": "m", "source": "builtin:tiny-random"}]})
    out = tmp_path / "out"
    out.mkdir()
    counts = grading.run(StageContext(config, run_dir), out)
    verdicts = read_table(out / "verdicts", "verdicts").set_index("response_id")
    assert counts["failed_requests"] == 1 and "m|original|demo:1" not in verdicts.index
    # An engine's own row failure stays what it was: a failed generation, kept and counted as such.
    assert verdicts.loc["m|original|demo:2", "verdict"] == UNPARSEABLE
