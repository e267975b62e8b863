"""A generate stage killed midway resumes from the rows it wrote: no duplicate, no gap, no redone row."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from e2e_helpers import ROOT, derived_config, warmray

pytestmark = pytest.mark.slow


def small_blocks(cfg):
    cfg["generate"]["engine"] |= {"batch_size": 2}  # blocks of 8 rows: many writes to interrupt between
    cfg["generate"]["sampling"]["max_tokens"] = 32


def test_killed_generate_resumes_without_duplicates_or_gaps(tmp_path):
    config, run_dir = derived_config("tiny", tmp_path, small_blocks), tmp_path / "run"
    assert warmray("run", str(config), "--run-dir", str(run_dir), "--until", "grid").returncode == 0
    raw = run_dir / ".generate.partial" / ".raw" / "tiny"
    proc = subprocess.Popen(
        [sys.executable, "-m", "warmray", "generate", str(config), "--run-dir", str(run_dir)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 600
    while not (raw.is_dir() and list(raw.glob("*.parquet"))) and time.time() < deadline:
        assert proc.poll() is None, "generate ended before it could be interrupted"
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the local Ray it started
    proc.wait()
    subprocess.run(
        [str(Path(sys.executable).parent / "ray"), "stop", "--force"], capture_output=True, timeout=120
    )
    written = pd.concat([pd.read_parquet(p) for p in raw.glob("*.parquet")])
    assert not (run_dir / "generate").exists() and 0 < len(written) < 128

    resumed = warmray("generate", str(config), "--run-dir", str(run_dir))
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert f"resuming: {len(written)} of 128 rows already done" in resumed.stderr
    responses = pd.read_parquet(run_dir / "generate" / "responses")
    assert len(responses) == 128 and responses["response_id"].is_unique
    before = written.set_index("response_id")["generated_text"]
    after = responses.set_index("response_id").loc[before.index, "response"]
    assert (after == before).all()  # rows written before the kill were kept, not regenerated
