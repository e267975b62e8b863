"""Model shapes: the few numbers of a model's config.json that size its weights, LoRA and KV cache.

Known models are listed here (values from their config.json on the Hugging Face Hub), so planning needs
no download. Any other model is read from a local folder or the local Hugging Face cache.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warmray.config import ConfigError
from warmray.models import BUILTIN_PREFIX


@dataclass(frozen=True)
class Shape:
    """A decoder-only transformer's dimensions."""

    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    tied_embeddings: bool = False
    mlp_matrices: int = 3  # gated MLP (Llama, Qwen, Mistral); GPT-2 has 2
    source: str = ""

    def linear_shapes(self) -> list[tuple[int, int]]:
        """(in, out) of every linear layer in one decoder layer (what LoRA all-linear adapts)."""
        q, kv = self.heads * self.head_dim, self.kv_heads * self.head_dim
        mlp = [(self.hidden, self.intermediate)] * (self.mlp_matrices - 1) + [
            (self.intermediate, self.hidden)
        ]
        return [(self.hidden, q), (self.hidden, kv), (self.hidden, kv), (q, self.hidden), *mlp]

    @property
    def layer_params(self) -> int:
        """Parameters of one decoder layer (norms included)."""
        return sum(i * o for i, o in self.linear_shapes()) + 2 * self.hidden

    @property
    def embedding_params(self) -> int:
        """Input embedding plus output head (one matrix when tied)."""
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)

    @property
    def params(self) -> int:
        """All parameters."""
        return self.layers * self.layer_params + self.embedding_params + self.hidden

    def lora_params(self, r: int) -> int:
        """Trainable parameters of rank-r LoRA on every linear layer of every decoder layer."""
        return self.layers * sum(r * (i + o) for i, o in self.linear_shapes())

    def kv_bytes_per_token(self, dtype_bytes: int) -> int:
        """KV cache bytes one token takes across all layers (keys and values)."""
        return 2 * self.layers * self.kv_heads * self.head_dim * dtype_bytes


def _hub(model_id: str) -> str:
    return f"config.json of {model_id} on the Hugging Face Hub"


_LLAMA_8B = Shape(32, 4096, 32, 8, 128, 14336, 128256, source=_hub("meta-llama/Llama-3.1-8B-Instruct"))
_LLAMA_70B = Shape(80, 8192, 64, 8, 128, 28672, 128256, source=_hub("meta-llama/Llama-3.1-70B-Instruct"))
KNOWN: dict[str, Shape] = {
    "meta-llama/llama-3.1-8b-instruct": _LLAMA_8B,
    "meta-llama/llama-3.1-70b-instruct": _LLAMA_70B,
    "meta-llama/llama-3.3-70b-instruct": _LLAMA_70B,
    "mistralai/mistral-small-instruct-2409": Shape(
        56, 6144, 48, 8, 128, 16384, 32768, source=_hub("mistralai/Mistral-Small-Instruct-2409")
    ),
    "qwen/qwen2.5-32b-instruct": Shape(
        64, 5120, 40, 8, 128, 27648, 152064, source=_hub("Qwen/Qwen2.5-32B-Instruct")
    ),
    "qwen/qwen2.5-72b-instruct": Shape(
        80, 8192, 64, 8, 128, 29568, 152064, source=_hub("Qwen/Qwen2.5-72B-Instruct")
    ),
    "openai-community/gpt2": Shape(
        12, 768, 12, 12, 64, 3072, 50257, True, 2, source=_hub("openai-community/gpt2")
    ),
    "builtin:smollm2-135m": Shape(
        30, 576, 9, 3, 64, 1536, 49152, True, source=_hub("HuggingFaceTB/SmolLM2-135M-Instruct")
    ),
    "builtin:tiny-random": Shape(
        2, 128, 2, 2, 64, 256, 49152, True, source="warmray.models._build_tiny_random"
    ),
}
KNOWN["gpt2"] = KNOWN["openai-community/gpt2"]


def shape_from_config(data: dict[str, Any], source: str) -> Shape:
    """A shape from a Hugging Face config.json (Llama-style keys, or GPT-2's n_* keys)."""
    if "n_layer" in data:
        hidden = data["n_embd"]
        return Shape(
            data["n_layer"],
            hidden,
            data["n_head"],
            data["n_head"],
            hidden // data["n_head"],
            data.get("n_inner") or 4 * hidden,
            data["vocab_size"],
            True,
            2,
            source,
        )
    heads = data["num_attention_heads"]
    return Shape(
        data["num_hidden_layers"],
        data["hidden_size"],
        heads,
        data.get("num_key_value_heads") or heads,
        data.get("head_dim") or data["hidden_size"] // heads,
        data["intermediate_size"],
        data["vocab_size"],
        bool(data.get("tie_word_embeddings", False)),
        source=source,
    )


def _cached_hub_config(model_id: str) -> Path | None:
    """config.json of a Hub model already in the local Hugging Face cache (no network)."""
    home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    snapshots = home / "hub" / ("models--" + model_id.replace("/", "--")) / "snapshots"
    found = sorted(snapshots.glob("*/config.json")) if snapshots.is_dir() else []
    return found[-1] if found else None


def model_shape(source: str, key: str) -> Shape:
    """The shape of a model source; raises ConfigError naming `key` when it cannot be known offline."""
    known = KNOWN.get(source.lower())
    if known:
        return known
    local = Path(source).expanduser()
    config = local / "config.json" if not source.startswith(BUILTIN_PREFIX) else None
    if config is None or not config.is_file():
        config = _cached_hub_config(source)
    if config is None:
        raise ConfigError(
            f"{key}: the shape of {source!r} is unknown offline. Known models: {', '.join(sorted(KNOWN))}; "
            "or point the source at a local folder with its config.json, or download it to the HF cache."
        )
    return shape_from_config(json.loads(config.read_text()), str(config))
