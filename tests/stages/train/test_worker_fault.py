"""A training worker killed after the first checkpoint: the run resumes and ends as if uninterrupted.

FSDP on 2 Ray Train CPU workers with `train.max_failures: 1`. One worker process is killed (SIGKILL, by
its pid) as soon as Ray Train has registered the first checkpoint (its checkpoint manager snapshot
appears in the run's storage); Ray replaces the worker group,
which restores the sharded state and goes on. The optimizer steps, the checkpoint list and the final
adapter must match a run nobody interrupted (dropout masks and data order depend on the step only).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest
import torch
from safetensors.torch import load_file
from train_helpers import tiny_train_config

from warmray.stages.train import export_adapters, fit, training_data

pytestmark = pytest.mark.slow

WEIGHT_TOLERANCE = 1e-6


def _train_workers() -> list[psutil.Process]:
    """Ray Train worker processes started by this test's own local Ray (never anyone else's)."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if "RayTrainWorker" in " ".join(proc.cmdline()):
                found.append(proc)
        except psutil.NoSuchProcess:
            continue
    return found


def _kill_a_worker_after_first_checkpoint(run_dir: Path, killed: list[int], stop: threading.Event) -> None:
    while not stop.is_set():
        if (run_dir / "checkpoint_manager_snapshot.json").is_file():
            workers = _train_workers()
            if workers:
                os.kill(workers[-1].pid, signal.SIGKILL)
                killed.append(workers[-1].pid)
                return
        time.sleep(0.05)


def _run(out: Path, name: str, table: Path, model: str, kill: bool) -> tuple[list, dict, list[int]]:
    cfg = tiny_train_config(strategy="fsdp", epochs=4, checkpoint_epochs=(1, 2, 3, 4), max_failures=1)
    killed: list[int] = []
    stop = threading.Event()
    watcher = threading.Thread(
        target=_kill_a_worker_after_first_checkpoint, args=(out / "ray" / name, killed, stop), daemon=True
    )
    if kill:
        watcher.start()
    try:
        result = fit(cfg, model, training_data(cfg, table, None), out / "ray", name, workers=2)
    finally:
        stop.set()
    steps = [m["step"] for _, m in result.best_checkpoints]
    metrics = export_adapters(result, out / name, "tiny", "warm")
    weights = load_file(out / name / "epoch_4" / "adapter_model.safetensors")
    return [steps, sorted(metrics["checkpoint_epoch"].unique())], weights, killed


def test_a_killed_worker_is_replaced_and_the_run_ends_as_if_uninterrupted(
    tmp_path, tiny_model, train_tables, local_ray
):
    plan, weights, _ = _run(tmp_path, "calm", train_tables[0], tiny_model, kill=False)
    faulted_plan, faulted_weights, killed = _run(tmp_path, "faulted", train_tables[0], tiny_model, kill=True)
    assert killed, "no training worker was found to kill"
    assert faulted_plan == plan == [[2, 4, 6, 8], [1.0, 2.0, 3.0, 4.0]]
    for name, w in weights.items():
        assert (w - faulted_weights[name]).abs().max() <= WEIGHT_TOLERANCE, name
    assert torch.cat([w.flatten() for w in faulted_weights.values()]).abs().max() > 0
