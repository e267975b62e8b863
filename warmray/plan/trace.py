"""Traced memory per training rank: one LoRA step of the planned shape, run on fake tensors and fake ranks.

The planner's formula (warmray.plan.memory) counts bytes by hand; this runs the training code itself
(the workers' LoRA and FSDP2 wrapping, their step) under PyTorch's memory tracker, with no weight memory
and no GPU, in a child process (warmray.plan._trace_run) so the planner never imports torch nor keeps
torch.distributed state. Decoder layers are identical, so by default a model is traced cut to a few
layers at full width and the peak scaled per layer (`scaled`); `full` traces every layer.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from warmray.plan.shapes import Shape

GIB = 1024**3
Mode = Literal["off", "scaled", "full"]
CUT_LAYERS = (2, 4)  # layers of the two cut models a scaled trace runs
# The TrainConfig fields a trace needs (the rest are about data, schedule and checkpoints).
TRAIN_FIELDS = (
    "lora_r",
    "lora_alpha",
    "lora_dropout",
    "target_modules",
    "dtype",
    "activation_checkpointing",
    "learning_rate",
    "max_grad_norm",
)


@dataclass(frozen=True)
class TraceJob:
    """One planned training worker: model shape, strategy, world size, micro-batch, LoRA settings."""

    shape: Shape
    strategy: str
    world: int
    batch: int
    max_length: int
    train: tuple[tuple[str, Any], ...]  # (field, value) of TRAIN_FIELDS, hashable

    def request(self, layers: int) -> dict[str, Any]:
        """The child's job: this worker with the model cut to `layers` decoder layers."""
        return {
            "shape": asdict(self.shape),
            "strategy": self.strategy,
            "world": self.world,
            "batch": self.batch,
            "max_length": self.max_length,
            "train": {k: list(v) if isinstance(v, tuple) else v for k, v in self.train},
            "layers": layers,
        }


def job_for(shape: Shape, train: Any, *, strategy: str, world: int, batch: int | None = None) -> TraceJob:
    """The trace job of a training worker of `train` (a TrainConfig), overriding strategy and world."""
    fields = tuple((k, getattr(train, k)) for k in TRAIN_FIELDS)
    return TraceJob(shape, strategy, world, batch or train.per_device_batch_size, train.max_length, fields)


@dataclass(frozen=True)
class Traced:
    """The traced peak of one rank: GiB in total and by part at the peak, and how it was traced."""

    peak_gib: float
    parts: dict[str, float]
    note: str
    seconds: float


def _requests(job: TraceJob, mode: Mode) -> list[int]:
    """Decoder layers of each model the child traces for `job`."""
    if mode == "full" or job.shape.layers <= CUT_LAYERS[-1]:
        return [job.shape.layers]
    return list(CUT_LAYERS)


def _gib(parts: dict[str, int]) -> dict[str, float]:
    return {k: v / GIB for k, v in parts.items()}


def _combine(job: TraceJob, layers: list[int], results: list[dict[str, Any]]) -> Traced:
    """One job's Traced from its child results: as traced, or scaled per layer from two cut models.

    Scaling extrapolates the peak of each segment of the step (phase and position around the decoder
    layers, see warmray.plan._trace_run) linearly in the layers, part by part, and keeps the largest:
    which segment holds the step's peak can change with depth.
    """
    seconds = sum(r["seconds"] for r in results)
    if len(results) == 1:
        parts = _gib(results[0]["phases"]["step"])
        return Traced(
            sum(parts.values()), parts, f"traced at full depth ({job.shape.layers} layers)", seconds
        )
    (a, b), (ra, rb) = layers, results
    extra = (job.shape.layers - a) / (b - a)
    best: dict[str, float] = {}
    for phase in ra["phases"].keys() & rb["phases"].keys() - {"step"}:
        pa, pb = ra["phases"][phase], rb["phases"][phase]
        parts = {k: pa.get(k, 0) + extra * (pb.get(k, 0) - pa.get(k, 0)) for k in dict.fromkeys([*pa, *pb])}
        if sum(parts.values()) > sum(best.values()):
            best = parts
    parts = _gib({k: round(v) for k, v in best.items() if v > 0})
    note = f"traced on {a} and {b} of {job.shape.layers} decoder layers at full width, scaled per layer"
    return Traced(sum(parts.values()), parts, note, seconds)


def trace(jobs: Sequence[TraceJob], mode: Mode = "scaled", timeout: float = 1800) -> list[Traced]:
    """The traced peak per rank of each job, all traced in one child process.

    Raises:
        RuntimeError: the child failed (a bug, or a model the tracer cannot run), with its stderr.
    """
    plans = [_requests(job, mode) for job in jobs]
    requests = [job.request(n) for job, layers in zip(jobs, plans, strict=True) for n in layers]
    proc = subprocess.run(
        [sys.executable, "-m", "warmray.plan._trace_run"],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the memory trace failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    results = iter(json.loads(proc.stdout))
    out = []
    for job, layers in zip(jobs, plans, strict=True):
        out.append(_combine(job, layers, [next(results) for _ in layers]))
    return out


def variants(job: TraceJob, total_gpus: int) -> list[tuple[str, TraceJob]]:
    """Settings that lower a worker's peak, in the order a refusal proposes them, with their jobs.

    The first is a description with `{i}` standing for the model's index in the config.
    """
    out = []
    if job.strategy == "ddp":
        out.append(("models[{i}].train_strategy: fsdp", replace(job, strategy="fsdp")))
    world = job.world * 2
    while world <= total_gpus:
        out.append(
            (
                f"models[{{i}}].train_strategy: fsdp and train_workers: {world}",
                replace(job, strategy="fsdp", world=world),
            )
        )
        world *= 2
    if job.batch > 1:
        out.append(("train.per_device_batch_size: 1", replace(job, batch=1)))
    train = dict(job.train)
    if not train["activation_checkpointing"]:
        ac = tuple((k, True if k == "activation_checkpointing" else v) for k, v in job.train)
        out.append(("train.activation_checkpointing: true", replace(job, train=ac)))
    return out


@dataclass(frozen=True)
class TrainTrace:
    """A configured model's training rank, traced: what the plan prints beside the formula."""

    model: str
    strategy: str
    world: int
    traced: Traced
    formula_gib: float


def trace_training(ctx: Any, work: list[Any], mode: Mode) -> tuple[list[Any], list[TrainTrace]]:
    """Trace every GPU-trained model's worker; the work with traced peaks, and the traces.

    A worker whose traced peak plus the `train_overhead_gib` assumption (CUDA context, allocator slack)
    exceeds the GPU's memory is added to `ctx.problems`, naming its largest parts and the first setting
    whose own trace fits (ddp -> fsdp, more FSDP workers, micro-batch 1, activation checkpointing).
    """
    from warmray.plan.shapes import model_shape

    cfg, cluster = ctx.cfg, ctx.cluster
    if mode == "off" or cfg.device != "gpu":
        return work, []
    models = [(i, m) for i, m in enumerate(cfg.models) if not m.endpoint]
    jobs = [
        job_for(
            model_shape(m.source, f"models.{i}.source"),
            cfg.train,
            strategy=cfg.train.for_model(m).strategy,
            world=cfg.train.for_model(m).num_workers,
        )
        for i, m in models
    ]
    traced = trace(jobs, mode)
    budget = cluster.memory_gib - ctx.a["train_overhead_gib"]
    out, traces = list(work), []
    for (i, m), job, t in zip(models, jobs, traced, strict=True):
        rows = [k for k, w in enumerate(out) if w.stage == "train" and w.name.startswith(f"{m.name}/")]
        for k in rows:
            out[k] = replace(out[k], traced_gib=t.peak_gib)
        formula = out[rows[0]].memory_gib if rows else None
        traces.append(TrainTrace(m.name, job.strategy, job.world, t, formula or 0.0))
        if t.peak_gib > budget:
            ctx.problems.append(_refusal(i, m.name, job, t, ctx, mode))
    return out, traces


def _refusal(i: int, name: str, job: TraceJob, t: Traced, ctx: Any, mode: Mode) -> str:
    """The refusal of a worker whose trace does not fit, with the first traced setting that does."""
    gpu, overhead = ctx.cluster.gpu, ctx.a["train_overhead_gib"]
    largest = sorted(t.parts.items(), key=lambda kv: -kv[1])[:3]
    head = (
        f"models.{i} ({name}): a {job.strategy} training worker's traced peak is {t.peak_gib:.1f} GiB per "
        f"rank (largest parts: {', '.join(f'{k} {v:.1f}' for k, v in largest)}; {t.note}) + "
        f"{overhead:g} GiB overhead, a {gpu.name} has {ctx.cluster.memory_gib:.1f}: "
    )
    options = variants(job, ctx.cluster.total_gpus)
    budget = ctx.cluster.memory_gib - overhead
    for (what, _), fix in zip(options, trace([j for _, j in options], mode) if options else [], strict=True):
        if fix.peak_gib <= budget:
            return head + f"set {what.format(i=i)} (traced {fix.peak_gib:.1f} GiB per rank)."
    return head + "shorten train.max_length or use GPUs with more memory."
