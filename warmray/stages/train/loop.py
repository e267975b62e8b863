"""The training loop of one Ray Train worker: tokenized shard, LoRA model, steps, checkpoints.

Each worker tokenizes the rewritten training conversations, takes its shard, and runs the loop;
rank 0 saves the LoRA adapter at each checkpoint epoch and reports it to Ray Train.

`load_lora_model` and `train_step` need no Ray: benchmarks/bench_train_step.py runs them on a bare GPU.
"""

from __future__ import annotations

import json
import logging
import math
import random
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from warmray.config import TrainConfig
from warmray.stages.train.sft_data import Example, collate, tokenize_conversation

log = logging.getLogger(__name__)

STATE_FILE = "trainer_state.pt"


def epoch_label(epoch: float) -> str:
    """Folder name of a checkpoint: epoch_0.5, epoch_2."""
    return f"epoch_{epoch:g}"


@dataclass(frozen=True)
class Schedule:
    """Optimizer steps and where the checkpoints fall, for one worker."""

    micro_per_step: int  # gradient accumulation
    steps_per_epoch: int
    total_steps: int
    checkpoints: dict[int, tuple[float, ...]]  # optimizer step -> checkpoint epochs saved there


def make_schedule(n_examples: int, world: int, cfg: TrainConfig) -> Schedule:
    """Gradient accumulation and checkpoint steps from data size and the effective batch."""
    per_worker = math.ceil(n_examples / world)
    micro_per_epoch = math.ceil(per_worker / cfg.per_device_batch_size)
    accum = max(1, cfg.effective_batch_size // (cfg.per_device_batch_size * world))
    steps_per_epoch = max(1, math.ceil(micro_per_epoch / accum))
    points: dict[int, list[float]] = {}
    for e in sorted(cfg.checkpoint_epochs):
        points.setdefault(max(1, round(e * steps_per_epoch)), []).append(e)
    total = max(points)
    return Schedule(accum, steps_per_epoch, total, {k: tuple(v) for k, v in points.items()})


def micro_batches(shard: Sequence[Example], batch_size: int, seed: int) -> Iterator[list[Example]]:
    """Endless micro-batches, reshuffled each epoch with a seed (so a resumed run sees the same order)."""
    epoch = 0
    while True:
        order = list(range(len(shard)))
        random.Random(seed + epoch).shuffle(order)
        for i in range(0, len(order), batch_size):
            yield [shard[j] for j in order[i : i + batch_size]]
        epoch += 1


def load_lora_model(model_path: str, cfg: TrainConfig, device: torch.device) -> tuple[Any, Any]:
    """Tokenizer and base model with fresh LoRA adapters (trainable adapters only)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = torch.bfloat16 if cfg.dtype == "bfloat16" else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype).to(device)
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=cfg.target_modules
        if isinstance(cfg.target_modules, str)
        else list(cfg.target_modules),
        task_type="CAUSAL_LM",
    )
    return tokenizer, get_peft_model(model, lora)


def train_step(
    model: Any, batches: Sequence[dict[str, torch.Tensor]], optimizer: torch.optim.Optimizer, dtype: str
) -> float:
    """One optimizer step over accumulated micro-batches; returns the mean loss."""
    device = next(model.parameters()).device
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if dtype == "bfloat16" else nullcontext()
    total = 0.0
    for batch in batches:
        batch = {k: v.to(device) for k, v in batch.items()}
        with autocast:
            loss = model(**batch).loss / len(batches)
        loss.backward()
        total += loss.item()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return total


def _save_checkpoint(model: Any, optimizer: Any, step: int, losses: list[float], folder: Path) -> None:
    unwrapped = model.module if hasattr(model, "module") else model
    unwrapped.save_pretrained(folder)
    torch.save({"optimizer": optimizer.state_dict(), "step": step}, folder / STATE_FILE)
    (folder / "losses.json").write_text(json.dumps(losses))


def _restore(model: Any, optimizer: Any, checkpoint: Any) -> int:
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    with checkpoint.as_directory() as d:
        unwrapped = model.module if hasattr(model, "module") else model
        set_peft_model_state_dict(unwrapped, load_file(str(Path(d) / "adapter_model.safetensors")))
        state = torch.load(Path(d) / STATE_FILE, weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    return int(state["step"])


def train_worker(loop: dict[str, Any]) -> None:
    """The per-worker training function Ray Train runs (rank 0 saves and reports checkpoints)."""
    import ray.train
    import ray.train.torch

    cfg = TrainConfig(**loop["train"])
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    torch.manual_seed(cfg.seed)
    tokenizer, model = load_lora_model(loop["model_path"], cfg, ray.train.torch.get_device())
    examples = load_examples(loop["data_path"], tokenizer, cfg.max_length)
    shard = [
        examples[i % len(examples)] for i in range(rank, math.ceil(len(examples) / world) * world, world)
    ]
    schedule = make_schedule(len(examples), world, cfg)
    model = ray.train.torch.prepare_model(model, parallel_strategy=cfg.strategy)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.learning_rate)
    start = _restore(model, optimizer, ckpt) if (ckpt := ray.train.get_checkpoint()) else 0
    stream = micro_batches(shard, cfg.per_device_batch_size, cfg.seed)
    for _ in range(start * schedule.micro_per_step):  # a resumed run skips what it already learned
        next(stream)
    losses: list[float] = []
    began = time.time()
    for step in range(start + 1, schedule.total_steps + 1):
        batches = [collate(next(stream), tokenizer.pad_token_id) for _ in range(schedule.micro_per_step)]
        losses.append(train_step(model, batches, optimizer, cfg.dtype))
        if rank == 0:
            eta = (time.time() - began) / (step - start) * (schedule.total_steps - step)
            print(
                f"train step {step}/{schedule.total_steps} loss {losses[-1]:.4f} eta {eta:.0f}s", flush=True
            )
        if step in schedule.checkpoints:
            _report_checkpoint(model, optimizer, step, losses, schedule, rank)
            losses = []


def _report_checkpoint(
    model: Any, optimizer: Any, step: int, losses: list[float], schedule: Schedule, rank: int
) -> None:
    import ray.train

    metrics = {
        "step": step,
        "epochs": list(schedule.checkpoints[step]),
        "epoch": step / schedule.steps_per_epoch,
        "loss": sum(losses) / max(1, len(losses)),
    }
    with tempfile.TemporaryDirectory() as d:
        checkpoint = None
        if rank == 0:
            _save_checkpoint(model, optimizer, step, losses, Path(d))
            checkpoint = ray.train.Checkpoint.from_directory(d)
        ray.train.report(metrics, checkpoint=checkpoint)


def load_examples(data_path: str, tokenizer: Any, max_length: int) -> list[Example]:
    """Tokenized training conversations of a rewrite table (split == train)."""
    frame = pd.read_parquet(data_path)
    frame = frame[frame["split"] == "train"]
    examples = [tokenize_conversation(tokenizer, list(t), max_length) for t in frame["turns"]]
    kept = [e for e in examples if e is not None]
    if not kept:
        raise ValueError(f"{data_path}: no training conversation has an assistant token within max_length")
    return kept
