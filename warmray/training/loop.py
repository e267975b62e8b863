"""The training loop of one Ray Train worker: tokenized shard, LoRA model, steps, checkpoints.

Each worker tokenizes the training conversations, takes its shard, places the model (DDP or FSDP2, see
warmray.training.sharding) and runs the loop; at each checkpoint epoch every rank saves its part and
reports it to Ray Train (warmray.training.checkpoints).

`run_step`, `train_step` and `make_schedule` need no Ray: benchmarks/bench_train_step.py and
benchmarks/device_check.py run the step on a bare GPU, and warmray.plan.trace runs it under fake tensors.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch

from warmray.config import TrainConfig
from warmray.training import checkpoints
from warmray.training.sft_data import Example, collate, load_examples
from warmray.training.sharding import place_model


@dataclass(frozen=True)
class Schedule:
    """Optimizer steps and where the checkpoints fall, for one worker."""

    micro_per_step: int  # gradient accumulation
    steps_per_epoch: int
    total_steps: int  # where training stops: the last checkpoint
    horizon: int  # the steps of `epochs`, over which the learning rate decays
    checkpoints: dict[int, tuple[float, ...]]  # optimizer step -> checkpoint epochs saved there


def make_schedule(n_examples: int, world: int, cfg: TrainConfig) -> Schedule:
    """Gradient accumulation and checkpoint steps from data size and the effective batch."""
    per_worker = math.ceil(n_examples / world)
    micro_per_epoch = math.ceil(per_worker / cfg.per_device_batch_size)
    accum = cfg.accumulation(world)
    steps_per_epoch = max(1, math.ceil(micro_per_epoch / accum))
    points: dict[int, list[float]] = {}
    for e in sorted(cfg.checkpoint_epochs):
        points.setdefault(max(1, round(e * steps_per_epoch)), []).append(e)
    total = max(points)
    horizon = max(total, round(cfg.epochs * steps_per_epoch))
    return Schedule(accum, steps_per_epoch, total, horizon, {k: tuple(v) for k, v in points.items()})


def lr_factor(done: int, schedule: Schedule, cfg: TrainConfig) -> float:
    """Learning-rate multiplier for the step after `done` optimizer steps (Hugging Face's schedules)."""
    warmup = round(cfg.warmup_fraction * schedule.horizon)
    if done < warmup:
        return (done + 1) / (warmup + 1)
    if cfg.lr_schedule == "constant":
        return 1.0
    progress = (done - warmup) / max(1, schedule.horizon - warmup)
    if cfg.lr_schedule == "linear":
        return max(0.0, 1.0 - progress)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def micro_batches(shard: Sequence[Example], batch_size: int, seed: int) -> Iterator[list[Example]]:
    """Endless micro-batches, reshuffled each epoch with a seed (so a resumed run sees the same order)."""
    epoch = 0
    while True:
        order = list(range(len(shard)))
        random.Random(seed + epoch).shuffle(order)
        for i in range(0, len(order), batch_size):
            yield [shard[j] for j in order[i : i + batch_size]]
        epoch += 1


def _gradient_sync(model: Any, sync: bool) -> Any:
    """Skip the gradient reduction of a micro-batch that is not the last of its step."""
    if hasattr(model, "set_requires_gradient_sync"):  # FSDP2: a flag, not a context
        model.set_requires_gradient_sync(sync)
        return nullcontext()
    return model.no_sync() if not sync and hasattr(model, "no_sync") else nullcontext()


def make_optimizer(model: Any, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW over the trainable parameters (the LoRA adapters), at the configured learning rate."""
    return torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.learning_rate)


def run_step(
    model: Any,
    batches: Sequence[dict[str, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    dtype: str,
    max_grad_norm: float | None = None,
) -> torch.Tensor:
    """One optimizer step over accumulated micro-batches; returns the mean loss as a tensor.

    The loss stays on the device (no host synchronisation), so the step also runs under fake tensors:
    warmray.plan.trace measures its memory this way, and benchmarks/device_check.py times it.

    Args:
        model: a PEFT model, bare, in DDP or sharded with FSDP2.
        batches: the micro-batches of this step (gradient accumulation).
        optimizer: over the trainable parameters, its lr already set for this step.
        dtype: "bfloat16" computes under autocast; "float32" does not.
        max_grad_norm: clip the gradient norm (across all ranks) to this; None: no clipping.
    """
    device = next(model.parameters()).device
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if dtype == "bfloat16" else nullcontext()
    total = torch.zeros((), device=device)
    for i, batch in enumerate(batches):
        batch = {k: v.to(device) for k, v in batch.items()}
        with _gradient_sync(model, i == len(batches) - 1):
            with autocast:
                loss = model(**batch).loss / len(batches)
            loss.backward()
        total += loss.detach().float()
    if max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], max_grad_norm)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return total


def train_step(
    model: Any,
    batches: Sequence[dict[str, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    dtype: str,
    max_grad_norm: float | None = None,
) -> float:
    """`run_step`, its mean loss read back as a float (what the training loop logs)."""
    return float(run_step(model, batches, optimizer, dtype, max_grad_norm))


def _shard(examples: list[Example], rank: int, world: int) -> list[Example]:
    """This rank's examples; the tail wraps around so every rank gets as many."""
    return [examples[i % len(examples)] for i in range(rank, math.ceil(len(examples) / world) * world, world)]


@dataclass
class Interval:
    """What the run did since its last checkpoint: losses per step, tokens learned, step seconds."""

    losses: list[float] = field(default_factory=list)
    tokens: int = 0
    seconds: float = 0.0

    def metrics(self) -> dict[str, float]:
        """Mean loss and throughput (tokens over all ranks per second of stepping, checkpoints excluded)."""
        return {
            "loss": sum(self.losses) / max(1, len(self.losses)),
            "tokens": self.tokens,
            "step_seconds": self.seconds,
            "tokens_per_s": self.tokens / self.seconds if self.seconds else 0.0,
        }


def _sum_over_ranks(loss: float, tokens: int, device: torch.device) -> tuple[float, int]:
    """The run's mean loss and token count, not rank 0's: each rank saw different examples."""
    import torch.distributed as dist

    t = torch.tensor([loss, tokens], dtype=torch.float64, device=device)  # NCCL reduces device tensors only
    dist.all_reduce(t)
    return float(t[0]) / dist.get_world_size(), int(t[1])


def train_worker(loop: dict[str, Any]) -> None:
    """The per-worker training function Ray Train runs (all ranks save and report checkpoints)."""
    import ray.train
    import ray.train.torch

    cfg = TrainConfig(**loop["train"])
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    torch.manual_seed(cfg.seed)  # the same LoRA initialisation on every rank and strategy
    device = ray.train.torch.get_device()
    tokenizer, model = place_model(loop["model_path"], cfg, device, rank)
    examples = load_examples(loop["data"], tokenizer, cfg)
    schedule = make_schedule(len(examples), world, cfg)
    optimizer = make_optimizer(model, cfg)
    start = checkpoints.restore(model, optimizer, ckpt) if (ckpt := ray.train.get_checkpoint()) else 0
    stream = micro_batches(_shard(examples, rank, world), cfg.per_device_batch_size, cfg.seed)
    for _ in range(start * schedule.micro_per_step):  # a resumed run skips what it already learned
        next(stream)
    interval = Interval()
    for step in range(start + 1, schedule.total_steps + 1):
        began = time.perf_counter()
        # Dropout masks depend on the step only, so a resumed run trains exactly as an uninterrupted one.
        torch.manual_seed(cfg.seed * 1_000_003 + step * 1009 + rank)
        for group in optimizer.param_groups:
            group["lr"] = cfg.learning_rate * lr_factor(step - 1, schedule, cfg)
        batches = [collate(next(stream), tokenizer.pad_token_id) for _ in range(schedule.micro_per_step)]
        loss = train_step(model, batches, optimizer, cfg.dtype, cfg.max_grad_norm)
        tokens = sum(int(b["attention_mask"].sum()) for b in batches)
        loss, tokens = _sum_over_ranks(loss, tokens, device)
        interval.losses.append(loss)
        interval.tokens += tokens
        interval.seconds += time.perf_counter() - began
        if rank == 0:
            print(f"train step {step}/{schedule.total_steps} loss {loss:.4f}", flush=True)
        if step in schedule.checkpoints:
            _report(model, optimizer, step, interval, schedule, rank, loop["data"])
            interval = Interval()


def _report(
    model: Any,
    optimizer: Any,
    step: int,
    interval: Interval,
    schedule: Schedule,
    rank: int,
    data: dict[str, Any],
) -> None:
    epochs = list(schedule.checkpoints[step])
    metrics = {"step": step, "epochs": epochs, "epoch": step / schedule.steps_per_epoch, **interval.metrics()}
    record = {
        "step": step,
        "epochs": epochs,
        "losses": interval.losses,
        "warm_fraction": data["warm_fraction"],
        "system_prompt": data["system_prompt"],
        "system_prompt_text": data["system_prompt_text"],
    }
    checkpoints.report(model, optimizer, rank, metrics, record)
