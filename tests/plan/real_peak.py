"""Measure the real peak of one rank's LoRA training step: 4 gloo processes, real tensors, on the CPU.

    python tests/plan/real_peak.py SHAPE_JSON TRAIN_JSON STRATEGY WORLD BATCH LENGTH > peaks.json

Each rank builds a Llama of the shape with real weights, wraps it as the Ray Train workers do
(add_lora, shard_model / wrap_ddp), and runs the project's step (run_step) twice. The peak is read from the
CPU allocator itself: the profiler's memory events carry the bytes allocated since profiling began, which
starts before the model is built, so it counts every live tensor. Printed: rank -> peak bytes over the
two steps.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _rank(rank: int, args: list[str], port: int, out: str) -> None:
    from torch.profiler import ProfilerActivity, profile, record_function

    from warmray.config import TrainConfig
    from warmray.plan._trace_run import _model_config
    from warmray.training.loop import make_optimizer, run_step
    from warmray.training.sharding import add_lora, shard_model, wrap_ddp

    shape, train, strategy = json.loads(args[0]), json.loads(args[1]), args[2]
    world, batch, length = int(args[3]), int(args[4]), int(args[5])
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    cfg = TrainConfig(
        **train, per_device_batch_size=batch, effective_batch_size=batch * world, num_workers=world
    )
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        config = _model_config(shape, shape["layers"])
        if strategy == "fsdp":
            if rank == 0:
                base = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
            else:
                with torch.device("meta"):
                    base = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
            model = shard_model(add_lora(base, cfg), cfg, torch.device("cpu"), rank)
        else:
            model = wrap_ddp(add_lora(AutoModelForCausalLM.from_config(config), cfg), torch.device("cpu"))
        optimizer = make_optimizer(model, cfg)
        ids = torch.randint(0, shape["vocab"], (batch, length))
        step = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
        with record_function("warmray_steps"):
            for _ in range(2):
                run_step(model, [step], optimizer, cfg.dtype, cfg.max_grad_norm)
    trace = Path(out) / f"rank{rank}.json"
    prof.export_chrome_trace(str(trace))
    events = json.loads(trace.read_text())["traceEvents"]
    (window,) = [e for e in events if e.get("name") == "warmray_steps"]
    start, end = window["ts"], window["ts"] + window["dur"]
    totals = [
        e["args"]["Total Allocated"]
        for e in events
        if e.get("name") == "[memory]" and start <= e["ts"] <= end and e["args"].get("Device Type") == 0
    ]
    (Path(out) / f"rank{rank}.peak").write_text(str(max(totals)))
    dist.destroy_process_group()


def main() -> None:
    """Spawn the ranks and print their peaks as JSON."""
    world = int(sys.argv[4])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as out:
        mp.spawn(_rank, args=(sys.argv[1:], port, out), nprocs=world)
        print(json.dumps({r: int((Path(out) / f"rank{r}.peak").read_text()) for r in range(world)}))


if __name__ == "__main__":
    main()
