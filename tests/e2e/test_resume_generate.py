"""An original-only generate stage (no training) stopped midway, by SIGTERM and by SIGKILL, then resumed.

SIGTERM: the command stops its engines and Ray, and none of its processes (Ray's, or any carrying the
command's recorded token) outlives it. SIGKILL: the next command ends what the killed one left, the rows
written before the kill are kept unchanged, and the rerun adds the rest with no duplicate or gap.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from e2e_helpers import ROOT, derived_config, warmray

from warmray import processes

pytestmark = pytest.mark.slow
ROWS = 64  # 32 prompts x original, warm_sysprompt


def original_only_small_blocks(cfg):
    cfg["generate"]["variants"] = ["original", "warm_sysprompt"]
    cfg["generate"]["engine"] |= {"batch_size": 1}  # blocks of 4 rows: many writes to interrupt between
    cfg["generate"]["sampling"]["max_tokens"] = 64  # random weights rarely stop: blocks take a while


def ray_processes(tmpdir: str) -> list[str]:
    """Live processes of the Ray started with RAY_TMPDIR=tmpdir: its raylet, workers and engines.

    Found by environment, not by command line: Ray workers and vLLM engines rename themselves
    (`ray::MapWorker...`, `VLLM::EngineCore`), and every one of them inherits the variable.
    """
    found = []
    for proc in Path("/proc").iterdir():
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
            status = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):  # gone meanwhile, or not ours to read
            continue
        if f"RAY_TMPDIR={tmpdir}".encode() in environ and status != "Z":
            found.append(f"{proc.name} {command[:200]}")
    return found


def command_record(pid: int) -> dict:
    """What warmray recorded of the command with this pid (warmray.processes): its token, whether it ended."""
    found = [r for r in processes.records() if r["pid"] == pid]
    assert found, f"no command record for pid {pid} in {processes.registry()}"
    return max(found, key=lambda r: r["started_at"])


def readable(raw: Path) -> pd.DataFrame:
    """The rows of the complete Parquet shards (a shard torn by SIGKILL has no footer and is redone)."""
    frames = []
    for path in sorted(raw.glob("*.parquet")) if raw.is_dir() else []:
        try:
            frames.append(pd.read_parquet(path))
        except Exception:
            continue
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"response_id": []})


def start_generate(config: Path, run_dir: Path, tmpdir: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "warmray", "generate", str(config), "--run-dir", str(run_dir)],
        cwd=ROOT,
        env=os.environ | {"RAY_TMPDIR": tmpdir},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def complete(path: Path) -> bool:
    """Whether a shard has its footer: the file exists from the first byte written, long before that."""
    try:
        pq.read_metadata(path)
        return True
    except Exception:
        return False


def wait_for_new_shard(proc: subprocess.Popen, raw: Path, seen: set[str]) -> None:
    """Return as soon as the engine has finished a shard not in `seen` (polled often: blocks come fast).

    A shard merely named is not enough: killed then, it is torn, and a slow machine can be killed at every
    shard's first bytes, leaving no kept row to check.
    """
    deadline = time.time() + 900
    while time.time() < deadline:
        assert proc.poll() is None, "generate ended before it could be interrupted:\n" + proc.communicate()[0]
        new = [p for p in raw.glob("*.parquet") if p.name not in seen] if raw.is_dir() else []
        if any(complete(p) for p in new):
            return
        time.sleep(0.1)
    raise TimeoutError("generate finished no shard in 15 minutes")


def test_interrupted_generate_cleans_up_and_resumes_without_duplicates_or_gaps(tmp_path):
    config, run_dir = derived_config("tiny", tmp_path, original_only_small_blocks), tmp_path / "run"
    grid = warmray("grid", str(config), "--run-dir", str(run_dir))
    assert grid.returncode == 0, grid.stdout + grid.stderr
    raw = run_dir / ".generate.partial" / ".raw" / "tiny"
    tmpdir = f"/tmp/wr-{uuid.uuid4().hex[:6]}"  # short: Ray's socket paths must fit in 107 bytes

    first = start_generate(config, run_dir, tmpdir)
    wait_for_new_shard(first, raw, set())
    os.kill(first.pid, signal.SIGTERM)
    output = first.communicate(timeout=180)[0]
    assert first.returncode == 130, output
    assert "interrupted" in output and "Traceback" not in output
    deadline = time.time() + 30  # the raylet reaps its workers within seconds of the shutdown
    while ray_processes(tmpdir) and time.time() < deadline:
        time.sleep(1)
    assert not ray_processes(tmpdir), ray_processes(tmpdir)
    first_record = command_record(first.pid)
    assert first_record["ended"] and not processes.carrying(first_record["token"])

    kept = len(readable(raw))
    second = start_generate(config, run_dir, tmpdir)
    wait_for_new_shard(second, raw, {p.name for p in raw.glob("*.parquet")})
    os.killpg(second.pid, signal.SIGKILL)  # the driver and the local Ray it started, with no goodbye
    second.wait()
    killed = command_record(second.pid)
    assert not killed["ended"]
    # The next command on the machine (here one that has nothing to do) ends what the killed one left,
    # before the rows are counted: a worker still running would add a shard afterwards.
    after_kill = warmray("grid", str(config), "--run-dir", str(run_dir))
    assert after_kill.returncode == 0, after_kill.stdout + after_kill.stderr
    assert not processes.carrying(killed["token"]) and not ray_processes(tmpdir), ray_processes(tmpdir)
    assert command_record(second.pid)["ended"]
    written = readable(raw)
    assert not (run_dir / "generate").exists() and kept < len(written) < ROWS

    resumed = warmray("generate", str(config), "--run-dir", str(run_dir))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    log = (run_dir / "logs" / "generate.log").read_text()
    assert f"resuming: {len(written)} of {ROWS} rows already done" in log
    responses = pd.read_parquet(run_dir / "generate" / "responses")
    assert len(responses) == ROWS and responses["response_id"].is_unique
    before = written.drop_duplicates("response_id").set_index("response_id")["generated_text"]
    after = responses.set_index("response_id").loc[before.index, "response"]
    assert (after == before).all()  # rows written before the kills were kept, not regenerated
    assert not (run_dir / "train").exists()  # an original-only run trains nothing
