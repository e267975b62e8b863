"""Endpoint requests: retried per request, and a request that still fails is a failed request."""

import asyncio
import json

import pandas as pd
import pytest

from warmray.config import EngineConfig
from warmray.infer import endpoint_row, failures, retry_policy
from warmray.infer.http import FAILED, MalformedReply, RetryPolicy, exchange, failure, reply_text

GOOD = json.dumps({"choices": [{"message": {"content": "CORRECT"}}], "usage": {"prompt_tokens": 3}})


POLICY = RetryPolicy(tries=3, timeout_s=5)


def _run(replies, policy=POLICY):
    """exchange() against a scripted server: each reply is (status, body), an exception, or a delay."""
    sent, waits = [], []

    async def send():
        reply = replies[len(sent)]
        sent.append(reply)
        if isinstance(reply, Exception):
            raise reply
        if isinstance(reply, float):
            await asyncio.sleep(reply)
        return reply

    async def sleep(s):
        waits.append(s)

    return asyncio.run(exchange(send, policy, sleep)), len(sent), waits


@pytest.mark.parametrize(
    "transient",
    [(500, "boom"), (503, ""), (429, "slow down"), ConnectionRefusedError("refused"), (200, "<html>garbage")],
)
def test_a_transient_failure_is_tried_again_with_a_growing_wait(transient):
    body, tries, waits = _run([transient, transient, (200, GOOD)])
    assert reply_text(body) == "CORRECT" and tries == 3 and waits == [1.0, 2.0]


def test_a_request_that_fails_every_try_becomes_a_failed_request_with_its_error():
    body, tries, _ = _run([(500, "boom")] * 3)
    assert tries == 3 and "HTTP 500: boom" in failure(body) and body["tries"] == 3


def test_a_slow_server_is_timed_out_per_request_and_tried_again():
    body, tries, _ = _run([0.5, (200, GOOD)], RetryPolicy(tries=2, timeout_s=0.05))
    assert tries == 2 and reply_text(body) == "CORRECT"


def test_a_refused_request_is_not_retried():
    body, tries, _ = _run([(401, "bad key"), (200, GOOD)])
    assert tries == 1 and "HTTP 401" in failure(body)


@pytest.mark.parametrize(
    "body", [{}, {"choices": []}, {"choices": [{"message": {"content": ""}}]}, {"error": "x"}, [1]]
)
def test_a_reply_without_an_answer_is_malformed(body):
    with pytest.raises(MalformedReply):
        reply_text(body)


def test_an_endpoints_failed_request_is_no_answer_and_marked_as_failed():
    text, n_in, n_out, error = endpoint_row({"http_response": {FAILED: "HTTP 500: boom", "tries": 5}})
    assert (text, n_in, n_out) == ("", 0, 0)
    assert error.startswith(failures.REQUEST_FAILED) and "HTTP 500" in error and "5 tries" in error
    assert endpoint_row({"http_response": json.loads(GOOD)}) == ("CORRECT", 3, 0, "")


def test_the_retry_policy_comes_from_the_engine_config():
    policy = retry_policy(EngineConfig(request_tries=7, request_timeout_s=9.5))
    assert (policy.tries, policy.timeout_s) == (7, 9.5)


def _rows(errors):
    return pd.DataFrame({"row_id": [f"r{i}" for i in range(len(errors))], "inference_error": errors})


def test_failed_requests_are_taken_out_of_the_written_rows_so_only_they_are_asked_again(tmp_path):
    ok, bad = "", failures.REQUEST_FAILED + "HTTP 500"
    _rows([ok, bad, "prompt too long"]).to_parquet(tmp_path / "a.parquet")
    _rows([bad]).assign(row_id="r9").to_parquet(tmp_path / "b.parquet")
    assert failures.reopen(tmp_path) == 2
    assert not (tmp_path / "b.parquet").exists()
    kept = pd.read_parquet(tmp_path / "a.parquet")
    assert list(kept["row_id"]) == ["r0", "r2"]  # an engine's own row failure stays final


def test_a_stage_stops_when_its_failed_share_exceeds_the_limit(tmp_path, caplog):
    bad = failures.REQUEST_FAILED + "HTTP 500: boom"
    done = _rows(["", "", "", bad])
    kept = failures.check_share(
        done, label="judge", endpoint="http://x/v1", limit=0.25, folder=tmp_path, key="row_id"
    )
    assert kept == 1 and "judge: request r3 failed: request failed: HTTP 500: boom" in caplog.text
    with pytest.raises(failures.RequestsFailed) as e:
        failures.check_share(done, label="judge", endpoint="http://x/v1", limit=0.1, folder=tmp_path)
    message = str(e.value)
    assert "1 of 4" in message and "http://x/v1" in message and "HTTP 500: boom" in message
    assert "3 answers that succeeded are kept" in message


def test_a_reply_of_whitespace_is_a_weak_models_answer_not_a_fault():
    assert reply_text({"choices": [{"message": {"content": "\n\n "}}]}) == "\n\n "
