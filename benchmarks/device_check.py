"""The GPU check: the project's LoRA step on one GPU, its memory against the planner, as one JSON file.

    python benchmarks/device_check.py OUT_DIR              one NVIDIA GPU (H100/H200), under 8 minutes
    python benchmarks/device_check.py OUT_DIR --tiny       CPU, tiny shapes, gloo (what CI runs)

Needs torch, transformers, peft and warmray's own imports (no Ray, no vLLM, no network): random weights
built from the model's shape (warmray.plan.shapes), wrapped and stepped by the functions the Ray Train
workers run (warmray.training.sharding.add_lora / wrap_ddp / wrap_fsdp, loop.run_step). Writes
OUT_DIR/device_check.json with three runs:

- `lora_8b`: Llama-3.1-8B shape, bf16, the study's LoRA settings (TrainConfig defaults), one rank as the
  DDP path runs it (`wrap_ddp` leaves one rank bare);
- `fsdp_8b_1rank`: the same step under FSDP2 (`wrap_fsdp`) on a one-rank NCCL process group;
- `large_layers`: Llama-3.1-70B layers at full width, cut to 2 and 4 decoder layers under FSDP2: the
  memory one more layer adds, against the per-layer scaling the planner's trace assumes.

Each run: seconds per step, tokens/s, MFU, peak memory, and that peak over the planner's traced peak
(warmray.plan.trace, run here on fake tensors in a child process) and over its formula
(warmray.plan.memory). The README section "The GPU check" says what each figure means.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # warmray from the copied working tree, installed or not

from warmray.config import TrainConfig  # noqa: E402
from warmray.plan import memory  # noqa: E402
from warmray.plan._trace_run import _model_config  # noqa: E402
from warmray.plan.hardware import GPUS  # noqa: E402
from warmray.plan.shapes import KNOWN, Shape  # noqa: E402
from warmray.plan.trace import GIB, TraceJob, job_for  # noqa: E402
from warmray.training import add_lora, make_optimizer, run_step, wrap_ddp, wrap_fsdp  # noqa: E402

FLOPS_COUNTING = (
    "model FLOPs per token = 2N (forward, all weights) + 2N_frozen + 4N_lora (backward: gradients of "
    "the activations through every weight, weight gradients only for the trainable LoRA weights) = "
    "4N_frozen + 6N_lora, plus attention 12 x layers x seq x heads x head_dim (forward 4, backward 8, no "
    "causal discount, as PaLM counts); N counts the matmul weights (decoder layers and output head, not the "
    "embedding lookup); MFU = model FLOPs/s over the GPU's dense bf16 peak; recomputation is not counted"
)
_TINY_8B = Shape(2, 128, 2, 2, 64, 256, 2048, source="device_check --tiny")
_TINY_70B = Shape(8, 256, 4, 2, 64, 768, 2048, source="device_check --tiny")


def model_flops_per_token(shape: Shape, lora: int, seq: int, tied: bool) -> float:
    """FLOPs of one training token of a LoRA step, as FLOPS_COUNTING states."""
    head = 0 if tied else shape.vocab * shape.hidden
    frozen = shape.layers * shape.layer_params + head
    attention = 12 * shape.layers * seq * shape.heads * shape.head_dim
    return 4 * frozen + 6 * lora + attention


def _peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    gpu = next((g for key, g in GPUS.items() if key.split("-")[0] in name), None)
    return gpu.bf16_tflops * 1e12 if gpu else None


class PeakMeter:
    """Peak bytes of live tensors during the steps (`steps()`), weights and optimizer state included.

    On CUDA the allocator's peak since a reset just before the steps; on the CPU the profiler's memory
    events, whose running total counts every tensor allocated since the meter began (before the model
    was built), read inside the steps' window only: building and wrapping the model (a transient second
    copy of the weights while FSDP shards them) is not part of a step.
    """

    def __init__(self, device: torch.device, out: Path) -> None:
        self.device, self.out, self.peak = device, out, 0

    def __enter__(self) -> PeakMeter:
        if self.device.type != "cuda":
            from torch.profiler import ProfilerActivity, profile

            self.prof = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
            self.prof.__enter__()
        return self

    @contextmanager
    def steps(self) -> Iterator[None]:
        """The window whose peak is measured."""
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats(self.device)
            yield
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated(self.device)
            return
        from torch.profiler import record_function

        with record_function("device_check_steps"):
            yield

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            return
        self.prof.__exit__(*exc)
        self.prof.export_chrome_trace(str(self.out))
        events = json.loads(self.out.read_text())["traceEvents"]
        self.out.unlink()
        (window,) = [e for e in events if e.get("name") == "device_check_steps"]
        start, end = window["ts"], window["ts"] + window["dur"]
        mem = [
            e["args"]["Total Allocated"]
            for e in events
            if e.get("name") == "[memory]" and start <= e["ts"] <= end
        ]
        self.peak = max(mem, default=0)


def _build(shape: Shape, cfg: TrainConfig, device: torch.device, layers: int) -> Any:
    """A randomly initialised causal LM of the shape (cut to `layers`) with the study's LoRA."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    dtype = torch.bfloat16 if cfg.dtype == "bfloat16" else torch.float32
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(_model_config(asdict(shape), layers), dtype=dtype)
    return add_lora(model, cfg)


def _timed_run(
    shape: Shape, cfg: TrainConfig, device: torch.device, wrap: Callable[[Any], Any], args: argparse.Namespace
) -> dict[str, Any]:
    """Build, wrap and step a model of `shape`; time the steps after warm-up and meter the peak."""
    scratch = Path(args.out) / ".profile.json"
    with PeakMeter(device, scratch) as meter:
        model = wrap(_build(shape, cfg, device, shape.layers))
        optimizer = make_optimizer(model, cfg)
        ids = torch.randint(0, shape.vocab, (args.batch, args.seq), device=device)
        step = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}
        with meter.steps():
            for _ in range(args.warmup):
                run_step(model, [step], optimizer, cfg.dtype, cfg.max_grad_norm)
            if device.type == "cuda":
                torch.cuda.synchronize()
            began = time.perf_counter()
            for _ in range(args.steps):
                loss = run_step(model, [step], optimizer, cfg.dtype, cfg.max_grad_norm)
            loss = float(loss)
            seconds = (time.perf_counter() - began) / args.steps
    lora = sum(p.numel() for p in model.parameters() if p.requires_grad)
    del model, optimizer, step
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    tokens = args.batch * args.seq
    flops = model_flops_per_token(shape, lora, args.seq, shape.tied_embeddings) * tokens / seconds
    peak = _peak_flops(device)
    return {
        "seconds_per_step": seconds,
        "tokens_per_s": tokens / seconds,
        "model_tflops_per_s": flops / 1e12,
        "mfu": flops / peak if peak else None,
        "peak_gib": meter.peak / GIB,
        "lora_params": lora,
        "last_loss": loss,
    }


def _formula_gib(shape: Shape, cfg: TrainConfig, strategy: str, args: argparse.Namespace) -> float:
    """The planner's formula for one worker, its overhead assumption left out (tensors only)."""
    from warmray.plan.assumptions import resolve

    a = {k: v.value for k, v in resolve({}).items()}
    fit = memory.train_fit(
        shape,
        strategy=strategy,
        workers=1,
        dtype=cfg.dtype,
        batch=args.batch,
        max_length=args.seq,
        lora_r=cfg.lora_r,
        gpu_gib=0,
        activation_factor=a["activation_bytes_per_token_layer_hidden"],
        overhead_gib=0,
    )
    return fit.total_gib


def _start_traces(jobs: list[TraceJob], folder: Path) -> subprocess.Popen[str]:
    """The planner's traces of `jobs` at full depth, in a child process on the CPU (runs beside the GPU)."""
    requests = folder / ".trace_jobs.json"
    requests.write_text(json.dumps([job.request(job.shape.layers) for job in jobs]))
    with requests.open() as stdin:
        return subprocess.Popen(
            [sys.executable, "-m", "warmray.plan._trace_run"],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHONPATH": str(ROOT)},
        )


def _traced(proc: subprocess.Popen[str]) -> list[float]:
    out, err = proc.communicate(timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"the planner's trace failed (exit {proc.returncode}):\n{err[-4000:]}")
    return [sum(r["phases"]["step"].values()) / GIB for r in json.loads(out)]


def _ratios(run: dict[str, Any], traced: float, formula: float) -> dict[str, Any]:
    return {
        **run,
        "traced_gib": traced,
        "formula_gib": formula,
        "peak_over_traced": run["peak_gib"] / traced,
        "peak_over_formula": run["peak_gib"] / formula,
    }


def main() -> None:
    """Run the three checks and write OUT_DIR/device_check.json."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", help="folder for device_check.json")
    parser.add_argument("--tiny", action="store_true", help="tiny shapes on the CPU in float32, gloo (CI)")
    parser.add_argument("--seq", type=int, help="tokens per example (default 1024; 64 with --tiny)")
    parser.add_argument(
        "--batch", type=int, help="micro-batch (default: TrainConfig's per_device_batch_size)"
    )
    parser.add_argument("--steps", type=int, default=5, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (allocator, kernels)")
    args = parser.parse_args()
    started = time.perf_counter()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    tiny = args.tiny or not torch.cuda.is_available()
    device = torch.device("cpu" if tiny else "cuda:0")
    cfg = TrainConfig(dtype="float32" if tiny else "bfloat16")  # the study's LoRA: r, alpha, dropout, targets
    args.seq = args.seq or (64 if tiny else cfg.max_length)
    args.batch = args.batch or cfg.per_device_batch_size
    small = _TINY_8B if tiny else KNOWN["meta-llama/llama-3.1-8b-instruct"]
    large = _TINY_70B if tiny else KNOWN["meta-llama/llama-3.1-70b-instruct"]
    cuts = (2, 4)

    def job(shape: Shape, strategy: str) -> TraceJob:
        return replace(job_for(shape, cfg, strategy=strategy, world=1, batch=args.batch), max_length=args.seq)

    jobs = [job(small, "ddp"), job(small, "fsdp"), *(job(replace(large, layers=n), "fsdp") for n in cuts)]
    tracing = _start_traces(jobs, Path(args.out))

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
    dist.init_process_group("gloo" if tiny else "nccl", rank=0, world_size=1)
    try:
        lora = _timed_run(small, cfg, device, lambda m: wrap_ddp(m, device), args)
        fsdp = _timed_run(small, cfg, device, lambda m: wrap_fsdp(m, cfg), args)
        cut = {
            n: _timed_run(replace(large, layers=n), cfg, device, lambda m: wrap_fsdp(m, cfg), args)
            for n in cuts
        }
    finally:
        dist.destroy_process_group()
    traced = _traced(tracing)
    result = {
        "device": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"CPU ({platform.machine()})",
        "tiny": tiny,
        "versions": {m: __import__(m).__version__ for m in ("torch", "transformers", "peft")},
        "settings": {
            "dtype": cfg.dtype,
            "seq": args.seq,
            "batch": args.batch,
            "steps": args.steps,
            "warmup": args.warmup,
            "lora": {k: getattr(cfg, k) for k in ("lora_r", "lora_alpha", "lora_dropout", "target_modules")},
        },
        "flops_counting": FLOPS_COUNTING,
        "runs": {
            "lora_8b": {
                "shape": small.source,
                **_ratios(lora, traced[0], _formula_gib(small, cfg, "ddp", args)),
            },
            "fsdp_8b_1rank": {
                "shape": small.source,
                **_ratios(fsdp, traced[1], _formula_gib(small, cfg, "fsdp", args)),
            },
            "large_layers": _large(large, cuts, cut, traced[2:]),
        },
    }
    result["seconds"] = time.perf_counter() - started
    path = Path(args.out) / "device_check.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))
    print(f"device_check: wrote {path}", file=sys.stderr)


def _large(
    shape: Shape, cuts: tuple[int, int], runs: dict[int, dict[str, Any]], traced: list[float]
) -> dict[str, Any]:
    """Per-layer memory of the large shape, measured against traced, and the full depth it implies."""
    (a, b), (ta, tb) = cuts, traced
    per_layer = (runs[b]["peak_gib"] - runs[a]["peak_gib"]) / (b - a)
    traced_per_layer = (tb - ta) / (b - a)
    return {
        "shape": shape.source,
        "layers": list(cuts),
        "peak_gib": {str(n): runs[n]["peak_gib"] for n in cuts},
        "traced_gib": {str(n): t for n, t in zip(cuts, traced, strict=True)},
        "tokens_per_s": {str(n): runs[n]["tokens_per_s"] for n in cuts},
        "per_layer_gib": per_layer,
        "traced_per_layer_gib": traced_per_layer,
        "per_layer_over_traced": per_layer / traced_per_layer if traced_per_layer else None,
        "full_depth_layers": shape.layers,
        "full_depth_from_measured_gib": runs[b]["peak_gib"] + (shape.layers - b) * per_layer,
        "full_depth_from_traced_gib": tb + (shape.layers - b) * traced_per_layer,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    main()
