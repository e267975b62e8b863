"""Ctrl-C during training and during a later stage of one `warmray run`; a killed training's checkpoint
is never resumed under another learning rate.

No rewrite engine: the corpus stage runs here and a stand-in rewrite stage commits the conversations
unchanged, so the only engines are Ray Train (tiny random Llama, one worker) and generate's, briefly.
1. `warmray run --until generate` at learning rate 0.5, SIGINT once the first checkpoint is written:
   exit 130, the partial folder with the checkpoint kept.
2. The same command at the config's learning rate: the old checkpoint is discarded (another stage
   identity), training finishes, SIGINT once generate starts: exit 130 again (Ctrl-C still works).
3. The same command once more: the interrupted run resumes and completes (every stage to judge
   committed, as many responses and verdicts as the grid and variants ask, no id twice).
4. A clean `warmray train` at that rate in a fresh directory: the committed adapters are byte-equal.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from e2e_helpers import ROOT, derived_config

from warmray.config import load_config
from warmray.pipeline import STAGE_NAMES, STAGES
from warmray.rundir import MANIFEST, RunDir
from warmray.schema import columns, read_table, write_table
from warmray.stage import Stage, StageContext, run_stage

pytestmark = pytest.mark.slow


def small(cfg: dict) -> None:
    cfg["corpus"] |= {"n_conversations": 12, "max_val_prompts": 4}
    # one worker, one example a step: 36 steps, the first checkpoint after 2, so a signal lands mid-run
    cfg["train"] |= {
        "styles": ["warm"],
        "num_workers": 1,
        "per_device_batch_size": 1,
        "effective_batch_size": 1,
        "epochs": 3,
        "checkpoint_epochs": [0.2, 3],
    }
    cfg["evaluate"] = {"epoch": 3}
    cfg["grid"] |= {"tasks": [{"name": "demo", "n": 2}], "prompt_templates": ["original"]}
    cfg["grid"]["amendment_types"] = ["unmodified"]
    cfg["generate"] |= {"variants": ["original", "warm"]}
    cfg["generate"]["sampling"]["max_tokens"] = 4


def unchanged_rewrite(ctx: StageContext, out: Path) -> dict[str, int]:
    """The rewrite stage's tables with every conversation kept as it is (no engine)."""
    table = ctx.read("corpus", "conversations")
    table = table[table["split"] == "train"].assign(style="warm", n_turns_rewritten=1)
    write_table(table[columns("training_conversations")], out / "warm.parquet", "training_conversations")
    return {"warm": len(table)}


def prepared(folder: Path, config: Path) -> Path:
    run_dir = folder / "run"
    ctx = StageContext(load_config(config), run_dir)
    run_stage(next(s for s in STAGES if s.name == "corpus"), ctx)
    run_stage(Stage("rewrite", unchanged_rewrite, ("rewrite",), ("corpus",), uses_ray=False), ctx)
    return run_dir


def start(*args: str, tmpdir: str) -> subprocess.Popen:
    """The command as a terminal starts it: Ctrl-C reaches it even when pytest runs in the background.

    A shell starts a background job with SIGINT ignored, and Python then keeps ignoring it; the command
    would go on after the test's SIGINT.
    """
    return subprocess.Popen(
        [sys.executable, "-m", "warmray", *args],
        cwd=ROOT,
        env=os.environ | {"RAY_TMPDIR": tmpdir},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def interrupt_when(proc: subprocess.Popen, ready, what: str, timeout: float = 300) -> tuple[int, str]:
    """SIGINT (Ctrl-C) to the command once `ready()` holds; its exit code and stderr."""
    deadline = time.time() + timeout
    while not ready():
        if proc.poll() is not None or time.time() > deadline:
            out, err = proc.communicate(timeout=60) if proc.poll() is None else proc.communicate()
            pytest.fail(f"never reached {what} (rc {proc.returncode}):\n{out[-2000:]}\n{err[-4000:]}")
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=180)
    return proc.returncode, out + err


def assert_complete(run_dir: Path, config: Path) -> None:
    """Every stage to judge committed, no scratch left, and each table as long as the config asks."""
    assert all((run_dir / s / MANIFEST).is_file() for s in STAGE_NAMES[: STAGE_NAMES.index("judge") + 1])
    assert not list(run_dir.glob(".*.partial")), list(run_dir.glob(".*.partial"))
    cfg, rundir = load_config(config), RunDir(run_dir)
    prompts = read_table(rundir.table("grid", "prompts"), "prompts")
    n_items = sum(task.n for task in cfg.grid.tasks)
    assert len(prompts) == n_items * len(cfg.grid.prompt_templates) * len(cfg.grid.amendment_types)
    responses = read_table(rundir.table("generate", "responses"), "responses")
    assert len(responses) == len(prompts) * len(cfg.generate.variants) and responses["response_id"].is_unique
    assert set(responses["variant"]) == set(cfg.generate.variants)
    verdicts = read_table(rundir.table("judge", "verdicts"), "verdicts")
    assert sorted(verdicts["response_id"]) == sorted(responses["response_id"])


def adapters(run_dir: Path) -> dict[str, bytes]:
    folder = run_dir / "train"
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("adapter_model.safetensors"))
    }


def test_ctrl_c_in_train_and_after_it_and_no_checkpoint_crosses_a_learning_rate(tmp_path):
    config = derived_config("tiny", tmp_path, small)
    run_dir = prepared(tmp_path / "a", config)
    tmpdir = f"/tmp/wr-{uuid.uuid4().hex[:6]}"  # short: Ray's socket paths must fit in 107 bytes
    command = ("run", str(config), "--run-dir", str(run_dir), "--until", "judge")
    storage = run_dir / ".train.partial" / ".ray_train"

    first = start(*command, "--set", "train.learning_rate=0.5", tmpdir=tmpdir)
    rc, text = interrupt_when(first, lambda: any(storage.glob("*/checkpoint_*")), "a first checkpoint")
    assert rc == 130 and "interrupted" in text, text[-4000:]
    assert not (run_dir / "train").exists() and any(storage.glob("*/checkpoint_*"))

    second = start(*command, tmpdir=tmpdir)
    rc, text = interrupt_when(second, lambda: (run_dir / ".generate.partial").exists(), "generate")
    assert rc == 130 and "interrupted" in text, text[-4000:]
    assert (run_dir / "train").is_dir() and not (run_dir / "generate").exists()
    assert (run_dir / ".generate.partial" / ".attempt.json").is_file()  # what the rerun resumes

    resumed = subprocess.run(
        [sys.executable, "-m", "warmray", *command],
        cwd=ROOT,
        env=os.environ | {"RAY_TMPDIR": tmpdir},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-4000:]
    assert_complete(run_dir, config)

    clean = prepared(tmp_path / "b", config)
    done = subprocess.run(
        [sys.executable, "-m", "warmray", "train", str(config), "--run-dir", str(clean)],
        cwd=ROOT,
        env=os.environ | {"RAY_TMPDIR": tmpdir},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert adapters(run_dir) and adapters(run_dir) == adapters(clean)  # nothing of the 0.5 run survived
