"""The end-to-end tests' shared run: one tiny study on the real engines, read by many tests.

`tiny_study` runs `warmray run configs/tiny.yaml` once per test session (a random-weight 2-layer Llama
everywhere, every stage, every variant) while a second command tries the same run directory: the
tests in test_tiny_study.py only read what these two commands left.
"""

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from e2e_helpers import ROOT, derived_config, warmray, warmray_process  # noqa: E402


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
    second_seconds: float


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory) -> TinyStudy:
    folder = tmp_path_factory.mktemp("tiny-study")
    prompt = folder / "warm_system_prompt.txt"  # a prompt file of our own, so a test can edit it
    prompt.write_text((ROOT / "warmray" / "prompts" / "warm_system_prompt.txt").read_text())
    config = derived_config("tiny", folder, lambda cfg: cfg.update(warm_system_prompt=str(prompt)))
    run_dir = folder / "run"
    first = warmray_process(
        "run", str(config), "--run-dir", str(run_dir), "--set", "generate.sampling.max_tokens=12"
    )
    lock = run_dir / ".lock"
    deadline = time.time() + 120
    while not (lock.is_file() and "pid" in lock.read_text()) and time.time() < deadline:
        assert first.poll() is None, first.communicate()
        time.sleep(0.2)
    started = time.time()
    second = warmray("run", str(config), "--run-dir", str(run_dir))
    second_seconds = time.time() - started
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
        second_seconds,
    )
