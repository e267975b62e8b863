"""The OpenAI-compatible endpoint path: a real vLLM server (the key never written) and a flaky judge.

The flaky judge is a stand-in server on loopback that answers HTTP 500, garbage, then correctly: its
failures must be retried, and a stage with too many must stop, keep what succeeded and ask only the
failed requests again, never turning a transport failure into a verdict.
"""

import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections import Counter

import pandas as pd
import pytest
from e2e_helpers import SERVER_KEY, SERVER_KEY_ENV, warmray

from warmray.grading.llm_judge import judge_messages
from warmray.schema import UNPARSEABLE

pytestmark = pytest.mark.slow


ANSWER_THREE = """
import sys
from pathlib import Path
import pandas as pd
from warmray import infer
from warmray.config import EngineConfig, RayConfig, SamplingConfig
from warmray.runtime import ensure_ray

if __name__ == "__main__":
    endpoint, folder = sys.argv[1], Path(sys.argv[2])
    ensure_ray(RayConfig())
    asks = pd.DataFrame({
        "row_id": ["a", "b", "c"],
        "messages": [[{"role": "user", "content": q}] for q in ("Hello?", "What is 2+2?", "Name a colour.")],
    })
    engine = EngineConfig(endpoint=endpoint, api_key_env="WARMRAY_TEST_KEY")
    sampling = SamplingConfig(max_tokens=8)
    done = infer.answer(asks, "row_id", folder / "raw", "tiny", engine, sampling, label="http")
    done.to_parquet(folder / "answers.parquet")
"""


def test_the_inference_path_through_an_endpoint_sends_the_key_but_never_writes_it(tmp_path, tiny_server):
    script = tmp_path / "answer_three.py"
    script.write_text(ANSWER_THREE)
    proc = subprocess.run(
        [sys.executable, str(script), tiny_server, str(tmp_path / "out")],
        env=os.environ | {"WARMRAY_TEST_KEY": SERVER_KEY},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    answers = pd.read_parquet(tmp_path / "out" / "answers.parquet")
    assert list(answers["row_id"]) == ["a", "b", "c"]
    assert (answers["num_generated_tokens"] > 0).all() and (
        answers["inference_error"] == ""
    ).all()  # key accepted
    written = [p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert not any(SERVER_KEY.encode() in blob for blob in written)
    assert SERVER_KEY not in proc.stdout + proc.stderr


class FlakyJudge(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible judge on loopback whose replies depend only on the question it is asked.

    While `server.healthy` is false, of the distinct questions in the order they come one in three is
    answered garbage then correctly (a retry saves it) and one in three HTTP 500 then an empty body (it
    fails every try); the rest at once. The label is a function of the question, so an undisturbed judge
    would give the same verdicts.
    """

    def log_message(self, *_args):  # the test's output stays readable
        pass

    def _send(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._send(200, json.dumps({"data": [{"id": JUDGE_MODEL}]}))

    def do_POST(self):
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        question = payload["messages"][-1]["content"]
        server = self.server
        with server.lock:
            server.asked.append(question)
            tries = server.asked.count(question)
            kind = server.kinds.setdefault(question, KINDS[len(server.kinds) % len(KINDS)])
        if not server.healthy and kind == "saved" and tries == 1:
            return self._send(200, "{not json")
        if not server.healthy and kind == "lost":
            return self._send(500, "overloaded") if tries % 2 else self._send(200, "")
        reply = {"choices": [{"message": {"content": judge_label(question)}}], "usage": {}}
        self._send(200, json.dumps(reply))


JUDGE_MODEL = "flaky-judge"


def _digest(question: str) -> int:
    return int(hashlib.sha256(question.encode()).hexdigest(), 16)


KINDS = ("saved", "lost", "plain")


def judge_label(question: str) -> str:
    return "CORRECT" if _digest(question) % 3 else "INCORRECT"


@pytest.fixture
def flaky_judge():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FlakyJudge)
    server.lock, server.asked, server.kinds, server.healthy = threading.Lock(), [], {}, False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_an_endpoint_that_fails_stops_the_judge_and_a_rerun_asks_only_the_failed_requests(
    tmp_path, tiny_study, flaky_judge
):
    run_dir = tmp_path / "run"
    # The study's stages up to generate: its judge (the reference grader) would be another config's.
    kept = shutil.ignore_patterns(".lock", "logs", "judge", "analyze", "inspect")
    shutil.copytree(tiny_study.run_dir, run_dir, ignore=kept)
    url = f"http://127.0.0.1:{flaky_judge.server_address[1]}/v1"
    args = [str(tiny_study.config), "--run-dir", str(run_dir), "--set", "generate.sampling.max_tokens=12"]
    for key, value in {
        "grader": "llm",
        "model": JUDGE_MODEL,
        "keep_reference": "false",
        "engine.endpoint": url,
        "engine.api_key_env": SERVER_KEY_ENV,
        "engine.request_tries": "2",
        "engine.request_timeout_s": "20",
        "engine.max_failed_fraction": "0.02",  # the tiny model repeats itself: few distinct questions
    }.items():
        args += ["--set", f"judge.{key}={value}"]
    env = {SERVER_KEY_ENV: SERVER_KEY}

    broken = warmray("judge", *args, env=env)
    assert broken.returncode == 2, broken.stdout + broken.stderr[-4000:]
    said = broken.stderr
    assert url in said and "failed after every try" in said and "(log:" in said, said
    assert "Traceback" not in said, said
    assert not (run_dir / "judge").exists()  # nothing committed
    first = list(flaky_judge.asked)
    lost = {q for q, kind in flaky_judge.kinds.items() if kind == "lost"}
    saved = {q for q, kind in flaky_judge.kinds.items() if kind == "saved"}
    assert lost and saved and len(lost) > 0.05 * len(set(first))

    flaky_judge.healthy, flaky_judge.asked = True, []
    rerun = warmray("judge", *args, env=env)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr[-4000:]
    # Only the failed requests are asked again, once each; the first run tried each of them twice.
    again = Counter(flaky_judge.asked)
    assert set(again) == lost and all(2 * again[q] == first.count(q) for q in lost)

    verdicts = pd.read_parquet(run_dir / "judge" / "verdicts")
    responses = pd.read_parquet(run_dir / "generate" / "responses")
    assert len(verdicts) == len(responses) and UNPARSEABLE not in set(verdicts["verdict"])
    judged = verdicts[~verdicts["is_refusal"]]
    # What an undisturbed judge gives: its label for each question, asked once.
    expected = [
        judge_label(judge_messages(q, list(c), list(i), r)[-1]["content"])
        for q, c, i, r in zip(
            judged["question"],
            judged["correct_answers"],
            judged["incorrect_answers"],
            judged["response"],
            strict=True,
        )
    ]
    assert list(judged["verdict"]) == expected
