"""`warmray sweep` end to end on the tiny random Llama: 2 trials, the trials table, the frontier, a rerun.

configs/sweep.yaml cut down: builtin:tiny-random as policy and warmth scorer, and as the rewriter behind
the session's vLLM server (tests/e2e/conftest.py: no rewrite engine to start here), one Ray Train worker
per trial, a 4-item slice, and one axis swept (the training system prompt, none or the inoculation
prompt; the warm fraction held at 0.5, so the mixing of warm and original data runs too). The numbers are
noise by design; the test checks the machinery: every trial trained, was scored and reported through
Tune, the terminal shows only the sweep's own lines (Ray's, Tune's and vLLM's go to its log), and a second
run restores the finished sweep instead of training again. Two trials, not the
config's four: each costs a Ray Train run, an engine and a scorer (about 150 s here), and the grid's
product over axes is checked without Ray (tests/sweep/test_space_and_frontier.py).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from e2e_helpers import ROOT, SERVER_KEY, SERVER_KEY_ENV, server_rewriter

pytestmark = pytest.mark.slow


def _tiny_sweep_config(folder: Path, server: str) -> Path:
    cfg = yaml.safe_load((ROOT / "configs" / "sweep.yaml").read_text())
    engine = {"max_model_len": 1024, "cpu_kvcache_gib": 1}
    cfg["ray"] = {"num_cpus": 8, "stall_timeout_s": 600}
    cfg["models"] = [{"name": "tiny", "source": "builtin:tiny-random"}]
    cfg["corpus"].update(n_conversations=12)
    cfg["rewrite"].update(
        **server_rewriter(server),
        sampling={"temperature": 1.0, "max_tokens": 32},  # random weights at temperature 0 answer blanks
        min_length_ratio=0.01,
        max_length_ratio=100.0,
    )
    cfg["train"].update(num_workers=1, effective_batch_size=2, learning_rate=1e-3, max_length=128)
    cfg["generate"] = {"engine": engine, "sampling": {"temperature": 0.0, "max_tokens": 8}}
    cfg["warmth"] = {"scorer": "builtin:tiny-random"}
    # Both trials at once, as on a cluster: their folders, adapters and Tune reports must not collide.
    cfg["sweep"].update(eval_items=4, val_prompts=4, warm_fraction=[0.5], max_concurrent_trials=2)
    path = folder / "sweep-tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _sweep(config: Path, run_dir: Path) -> subprocess.CompletedProcess:
    """`warmray sweep CONFIG --run-dir DIR`, as a user runs it (with the endpoint's key set)."""
    command = [sys.executable, "-m", "warmray", "sweep", str(config), "--run-dir", str(run_dir)]
    env = os.environ | {SERVER_KEY_ENV: SERVER_KEY}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=1500, cwd=ROOT)


# What `warmray sweep` itself prints: where its log is, one line per phase, progress (rows done, rate,
# ETA), where its outputs are.
_OWN_LINE = re.compile(r"warmray sweep |\s+\d+s  |\s+\S+  \d+/\d+ rows  |sweep: ")


def test_a_two_trial_sweep_writes_its_frontier_and_a_rerun_restores_it(tmp_path, tiny_server):
    config, run_dir = _tiny_sweep_config(tmp_path, tiny_server), tmp_path / "run"
    first = _sweep(config, run_dir)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-5000:]
    foreign = [line for line in first.stdout.splitlines() if not _OWN_LINE.match(line)]
    assert not foreign and "Traceback" not in first.stderr, first.stdout + first.stderr[-3000:]
    sweep = run_dir / "sweep"
    log = (sweep / "logs" / "sweep.log").read_text()
    assert "vLLM" in log and "Trial" in log, log[-3000:]  # the engines' and Tune's output went there
    trials = pd.read_parquet(sweep / "trials.parquet")
    assert len(trials) == 2 and trials["trial"].is_unique
    assert set(trials["warm_fraction"]) == {0.5}
    assert set(trials["system_prompt"].fillna("none")) == {"none", "inoculation_warm.txt"}
    for col in ("warmth", "error_rate", "sycophancy_rate"):
        assert trials[col].notna().all(), col
    assert (trials["error_low"] <= trials["error_rate"]).all() and (
        trials["error_rate"] <= trials["error_high"]
    ).all()
    assert trials["pareto"].any()
    assert (sweep / "frontier.png").stat().st_size > 10_000
    assert "Best trade-off found" in (sweep / "report.md").read_text()
    for name in trials["trial"]:  # stable names: a trial's folder holds its adapter and its metrics
        assert (sweep / "trials" / name / "metrics.json").is_file()
        assert list((sweep / "trials" / name / "train").glob("tiny/warm/epoch_1/adapter_config.json"))
    written = _modification_times(sweep / "trials")

    second = _sweep(config, run_dir)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-5000:]
    again = pd.read_parquet(sweep / "trials.parquet")
    pd.testing.assert_frame_equal(trials, again)  # restored from Tune's state
    assert _modification_times(sweep / "trials") == written  # no adapter, answer or metric written again


def _modification_times(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}
