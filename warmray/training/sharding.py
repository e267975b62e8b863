"""Putting the LoRA model on the workers: a full copy each (DDP) or FSDP2 shards.

FSDP2 (`fully_shard`) is applied here, in the worker function, not through Ray Train's `prepare_model`:
that one flattens parameters and refuses a PEFT model, whose frozen base and trainable adapters mix
`requires_grad` ("Must flatten tensors with uniform requires_grad"), and it first moves the whole model to
every device. Under FSDP only rank 0 reads the weights; the other ranks build the model on the meta
device, and the weights reach them as shards after sharding, so a 70B run holds one full copy in host
memory, not one per GPU. DDP wraps the model here too (`wrap_ddp`), so nothing in this module needs
Ray: the planner's trace and benchmarks/device_check.py wrap with the same functions as the workers.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.distributed as dist

from warmray.config import TrainConfig


def _dtype(cfg: TrainConfig) -> torch.dtype:
    return torch.bfloat16 if cfg.dtype == "bfloat16" else torch.float32


def load_lora_model(
    model_path: str, cfg: TrainConfig, device: torch.device, on_meta: bool = False
) -> tuple[Any, Any]:
    """Tokenizer and base model with fresh LoRA adapters (trainable adapters only).

    Args:
        model_path: a local folder or Hub id transformers can load.
        cfg: the training settings (LoRA shape, dtype, activation checkpointing).
        device: where the weights go (ignored with on_meta).
        on_meta: build the model without weights (shapes only), to be filled by `shard_model`.

    Returns:
        The tokenizer and the PEFT model (see `add_lora`).
    """
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if on_meta:
        model = build_on_meta(AutoConfig.from_pretrained(model_path), cfg)
    else:
        model = AutoModelForCausalLM.from_pretrained(model_path, dtype=_dtype(cfg)).to(device)
    return tokenizer, add_lora(model, cfg)


def build_on_meta(config: Any, cfg: TrainConfig) -> Any:
    """A causal LM of a transformers config on the meta device: shapes and dtypes, no weight memory."""
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config, dtype=_dtype(cfg))


def add_lora(model: Any, cfg: TrainConfig) -> Any:
    """The base model with fresh LoRA adapters of `cfg` (and activation checkpointing when asked).

    Every path that trains or measures the step goes through here: the Ray Train workers, the planner's
    traced memory (warmray.plan.trace) and benchmarks/device_check.py. LoRA weights stay float32 with a
    bf16 base, so the optimizer updates full-precision adapters; FSDP's MixedPrecisionPolicy casts them
    for compute.
    """
    from peft import LoraConfig, get_peft_model

    if cfg.activation_checkpointing:  # before sharding, so FSDP wraps the checkpointed layers
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=cfg.target_modules
        if isinstance(cfg.target_modules, str)
        else list(cfg.target_modules),
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def decoder_layers(model: Any) -> list[torch.nn.Module]:
    """The transformer blocks of a (PEFT-wrapped) causal LM: the units FSDP shards one at a time."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    layers = getattr(getattr(base, "model", None), "layers", None)
    if layers is None:
        raise ValueError(f"{type(base).__name__}: no model.layers to shard (not a decoder-only LM?)")
    return list(layers)


def wrap_fsdp(model: Any, cfg: TrainConfig) -> Any:
    """FSDP2 over the default process group: each decoder layer, then the root (weights left as they are).

    The parameters may be real or on the meta device; `shard_model` then fills them. bf16 compute and
    all-gathers (with a bf16 base), gradients reduced in fp32 so small adapter updates are not lost.
    """
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    policy = MixedPrecisionPolicy(param_dtype=_dtype(cfg), reduce_dtype=torch.float32)
    for layer in decoder_layers(model):
        fully_shard(layer, mp_policy=policy)
    fully_shard(model, mp_policy=policy)
    return model


def shard_model(model: Any, cfg: TrainConfig, device: torch.device, rank: int) -> Any:
    """FSDP2 over the workers (`wrap_fsdp`); weights broadcast from rank 0.

    Rank 0 passes a model with real weights, the others a meta-device model of the same shape.
    """
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

    full = model.state_dict() if rank == 0 else {}
    wrap_fsdp(model, cfg)
    if rank != 0:
        model.to_empty(device=device)
    set_model_state_dict(
        model, full, options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=True)
    )
    del full
    # Buffers left out of the state dict (rotary inv_freq) are garbage after to_empty: take rank 0's.
    for _, buffer in model.named_buffers():
        dist.broadcast(buffer, src=0)
    return model


def wrap_ddp(model: Any, device: torch.device) -> Any:
    """DistributedDataParallel over the default process group (the model bare when it has one rank).

    What Ray Train's `prepare_model(parallel_strategy="ddp")` does once the model is on `device`, without
    Ray, so the step can be run and measured on a machine without it.
    """
    from torch.nn.parallel import DistributedDataParallel

    if not dist.is_initialized() or dist.get_world_size() == 1:
        return model
    if device.type == "cuda":
        torch.cuda.set_device(device)
        return DistributedDataParallel(model, device_ids=[device], output_device=device)
    return DistributedDataParallel(model)


def place_model(model_path: str, cfg: TrainConfig, device: torch.device, rank: int) -> tuple[Any, Any]:
    """Tokenizer and the model ready to train on this worker, for `cfg.strategy` (ddp or fsdp)."""
    if cfg.strategy == "fsdp":
        # Rank 0 reads into host memory; fully_shard moves each layer's shard to the device in turn.
        tokenizer, model = load_lora_model(model_path, cfg, torch.device("cpu"), on_meta=rank != 0)
        return tokenizer, shard_model(model, cfg, device, rank)
    tokenizer, model = load_lora_model(model_path, cfg, device)
    return tokenizer, wrap_ddp(model, device)
