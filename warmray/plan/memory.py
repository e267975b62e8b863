"""Memory per GPU: LoRA training workers (DDP or FSDP) and vLLM engine replicas (tensor parallel).

Each function returns the parts in GiB, so a refusal can say which part does not fit and what would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from warmray.plan.shapes import Shape

GIB = 1024**3
# LoRA adapters are kept in fp32 by PEFT (autocast_adapter_dtype): weight, gradient, two AdamW moments.
_LORA_BYTES_PER_PARAM = 4 * 4
_LOGIT_BYTES = 4 * 2  # fp32 logits and their gradient, for the loss over the vocabulary


@dataclass(frozen=True)
class Fit:
    """GiB per GPU, part by part, against what a GPU offers."""

    parts: dict[str, float]
    available_gib: float

    @property
    def total_gib(self) -> float:
        """The sum of the parts."""
        return sum(self.parts.values())

    @property
    def fits(self) -> bool:
        """Whether the parts fit in the available memory."""
        return self.total_gib <= self.available_gib


def dtype_bytes(dtype: str) -> int:
    """Bytes per value of a config dtype ("auto" loads bf16 checkpoints as bf16)."""
    return 4 if dtype == "float32" else 2


def train_fit(
    shape: Shape,
    *,
    strategy: str,
    workers: int,
    dtype: str,
    batch: int,
    max_length: int,
    lora_r: int,
    gpu_gib: float,
    activation_factor: float,
    overhead_gib: float,
) -> Fit:
    """One training worker's memory: frozen weights, LoRA state, activations of a full micro-batch."""
    b = dtype_bytes(dtype)
    weights = shape.params * b
    if strategy == "fsdp":
        # FSDP2 on each decoder layer: a 1/workers shard, plus the two layers gathered around the one
        # computing (prefetch) and the root (embeddings, head) gathered while it runs.
        weights = weights / workers + (2 * shape.layer_params + shape.embedding_params) * b
    tokens = batch * max_length
    activations = activation_factor * tokens * shape.hidden * shape.layers * b / 2
    logits = tokens * shape.vocab * _LOGIT_BYTES
    return Fit(
        {
            "weights": weights / GIB,
            "lora+optimizer": shape.lora_params(lora_r) * _LORA_BYTES_PER_PARAM / GIB,
            "activations": (activations + logits) / GIB,
            "overhead": overhead_gib,
        },
        gpu_gib,
    )


@dataclass(frozen=True)
class EngineFit:
    """A vLLM replica's memory at one tensor parallel size, and how many tokens its KV cache holds."""

    weights_gib: float
    kv_gib: float
    kv_tokens: int
    budget_gib: float

    @property
    def fits_weights(self) -> bool:
        """Whether the weight shard leaves any room for the KV cache."""
        return self.kv_gib > 0


def engine_fit(
    shape: Shape,
    *,
    tensor_parallel: int,
    dtype: str,
    gpu_gib: float,
    utilization: float,
    lora_r: int | None,
    max_loras: int,
    overhead_gib: float,
) -> EngineFit:
    """Weights shard, LoRA slots and the KV cache left in `utilization` x GPU memory, per GPU."""
    b = dtype_bytes(dtype)
    weights = shape.params * b / tensor_parallel
    if lora_r:
        weights += max_loras * shape.lora_params(lora_r) * b / tensor_parallel
    budget = gpu_gib * utilization
    kv = budget - weights / GIB - overhead_gib
    # KV heads are split across the tensor parallel ranks (replicated when there are fewer heads).
    kv_per_gpu_token = shape.kv_bytes_per_token(b) / min(tensor_parallel, shape.kv_heads)
    tokens = int(kv * GIB / kv_per_gpu_token) if kv > 0 else 0
    return EngineFit(weights / GIB, kv, tokens, budget)


def smallest_tensor_parallel(
    shape: Shape, max_model_len: int, gpus_per_node: int, fit: Callable[[int], EngineFit]
) -> int | None:
    """The smallest power-of-two tensor parallel size (within a node) whose KV cache holds max_model_len."""
    tp = 1
    while tp <= gpus_per_node:
        if shape.heads % tp == 0 and fit(tp).kv_tokens >= max_model_len:
            return tp
        tp *= 2
    return None


def fsdp_workers_needed(fit_at: Callable[[int], Fit], max_workers: int) -> int | None:
    """The fewest FSDP workers (a power of two up to max_workers) whose shard fits, or None."""
    n = 1
    while n <= max_workers:
        if fit_at(n).fits:
            return n
        n *= 2
    return None
