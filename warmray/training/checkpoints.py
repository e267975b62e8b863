"""Checkpoints of one training run: a servable adapter plus the state to resume from.

A checkpoint folder holds
- `adapter_model.safetensors`, `adapter_config.json`: the LoRA adapter, gathered from all ranks into full
  tensors and written by rank 0 (what vLLM serves);
- `training.json`: the step, epochs, losses since the last checkpoint and the training mix (warm fraction,
  system prompt) this adapter learned from;
- `state/`: adapter weights and optimizer state as `torch.distributed.checkpoint` shards, one file per
  rank, for resuming at any world size. Every rank reports its own files with `ray.train.report`, which
  puts them together in one checkpoint (the way Ray Train documents for FSDP).
The same code serves DDP (replicated tensors, written once) and FSDP (sharded DTensors).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import torch

STATE_DIR = "state"
RECORD_FILE = "training.json"


def _options(**kw: bool) -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(ignore_frozen_params=True, **kw)  # the base model never changes: skip it


def unwrap(model: Any) -> Any:
    """The PEFT model inside a DDP wrapper (FSDP2 keeps the module itself)."""
    return model.module if hasattr(model, "module") else model


def export_adapter(model: Any, folder: Path, rank: int) -> None:
    """Write the adapter as a PEFT folder on rank 0; every rank must call it (it gathers shards)."""
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    full = get_model_state_dict(model, options=_options(full_state_dict=True, cpu_offload=True))
    if rank == 0:
        unwrap(model).save_pretrained(folder, state_dict=full)


def _resume_state(model: Any, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Adapter and optimizer state dicts (sharded under FSDP), trainable weights only."""
    from torch.distributed.checkpoint.state_dict import get_state_dict

    weights, optim = get_state_dict(model, optimizer, options=_options())
    # A tied embedding (lm_head = embed_tokens) slips past ignore_frozen_params: drop it by name.
    trainable = {n for n, p in unwrap(model).named_parameters() if p.requires_grad}
    return {"model": {k: v for k, v in weights.items() if k in trainable}, "optim": optim}


def save_state(model: Any, optimizer: torch.optim.Optimizer, folder: Path) -> None:
    """This rank's shards of adapter and optimizer state, into folder/state/."""
    import torch.distributed.checkpoint as dcp

    dcp.save(_resume_state(model, optimizer), checkpoint_id=str(folder / STATE_DIR))


def restore(model: Any, optimizer: torch.optim.Optimizer, checkpoint: Any) -> int:
    """Load adapter and optimizer state from a reported checkpoint; returns the step it was taken at."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import set_state_dict

    state = _resume_state(model, optimizer)
    with checkpoint.as_directory() as d:
        dcp.load(state, checkpoint_id=str(Path(d) / STATE_DIR))
        record = json.loads((Path(d) / RECORD_FILE).read_text())
    # Not strict: the frozen base is left out on purpose; dcp.load has failed on any missing adapter key.
    set_state_dict(
        model,
        optimizer,
        model_state_dict=state["model"],
        optim_state_dict=state["optim"],
        options=_options(strict=False),
    )
    return int(record["step"])


def report(model: Any, optimizer: Any, rank: int, metrics: dict[str, Any], record: dict[str, Any]) -> None:
    """Save a checkpoint on every rank and report it to Ray Train with the metrics."""
    import ray.train

    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        export_adapter(model, folder, rank)
        save_state(model, optimizer, folder)
        if rank == 0:
            (folder / RECORD_FILE).write_text(json.dumps(record, indent=2))
        ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(d))
