"""The numbers the planner assumes, each with where it comes from; `plan.assumptions` overrides any of them.

Throughput is modelled, not looked up: a training token costs about 4 x parameters FLOPs (forward 2N, the
backward pass through frozen weights 2N; LoRA's own gradients are negligible), and a vLLM decode step
reads the weights once per step, so it is bound by memory bandwidth until the batch is large enough to be
bound by compute. Peak FLOPs and bandwidth come from the GPU datasheets (warmray.plan.hardware); the
efficiencies below turn peaks into expected rates. They are the weakest numbers here: measure a pilot
run and put its figures in the config.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

_NEMO = (
    "https://docs.nvidia.com/nemo-framework/user-guide/24.12/nemotoolkit/performance/performance_summary.html"
)
_SWEEP = "https://johnmusgrave.com/p/vllm-throughput-latency-sweep-on"
_STUDY = "Ibrahim, Hafner & Rocher 2025 (arXiv 2507.21919), Methods"
_SHAREGPT = "measured: the first 3,000 ShareGPT V3 conversations, cut to 20 turns"


@dataclass(frozen=True)
class Assumption:
    """One number the plan rests on."""

    name: str
    value: float
    unit: str
    source: str


DEFAULTS: tuple[Assumption, ...] = (
    Assumption(
        "chars_per_token",
        4.0,
        "characters/token",
        "rule of thumb for English BPE tokenizers (OpenAI: 'one token is about 4 characters'); "
        "used only when no local tokenizer and corpus are available",
    ),
    Assumption("assistant_turns_per_conversation", 3667 / 1617, "turns", _STUDY + ": 3,667 turns / 1,617"),
    Assumption("chars_per_assistant_turn", 1438.0, "characters", _SHAREGPT + " (mean)"),
    Assumption("chars_per_user_turn", 394.0, "characters", _SHAREGPT + " (mean)"),
    Assumption(
        "chat_template_tokens_per_turn", 6.0, "tokens", "role header and end marker of Llama 3 / ChatML"
    ),
    Assumption(
        "rewrite_length_ratio",
        1.3,
        "x original",
        "assumed: warm rewrites add validation and caring phrases; cold ones are shorter",
    ),
    Assumption(
        "chars_per_grid_prompt",
        420.0,
        "characters",
        "assumed: a benchmark question, plus a context statement and a belief clause in most variants",
    ),
    Assumption(
        "response_fraction_of_max_tokens",
        0.6,
        "x max_tokens",
        "assumed: open answers mostly stop before sampling.max_tokens; replace with a pilot's "
        "mean num_generated_tokens / max_tokens",
    ),
    Assumption(
        "padding_factor",
        1.3,
        "x tokens",
        "assumed: micro-batches are right-padded to their longest example (no packing in warmray)",
    ),
    Assumption(
        "train_mfu",
        0.25,
        "of bf16 peak",
        f"NeMo's tuned LoRA Llama-2-70B on H100 reaches 722 TFLOP/s (~36% of FP8 peak) with packing "
        f"({_NEMO}); warmray's unpacked bf16 PEFT loop is assumed to reach less",
    ),
    Assumption(
        "prefill_mfu", 0.4, "of bf16 peak", "assumed: prompt processing is dense matmuls, compute bound"
    ),
    Assumption("decode_mfu", 0.3, "of bf16 peak", "assumed: compute ceiling of large-batch decode steps"),
    Assumption(
        "bandwidth_efficiency",
        0.77,
        "of HBM peak",
        f"vLLM Llama-3.1-8B on one A100 40GB decodes at ~77% of the memory roofline ({_SWEEP})",
    ),
    Assumption(
        "max_num_seqs",
        256,
        "sequences",
        "vLLM 0.32 EngineArgs default off H100/H200 (it raises it to 1024 there: this is conservative)",
    ),
    Assumption(
        "engine_overhead_gib",
        3.0,
        "GiB/GPU",
        "assumed: CUDA context, activations and sampler buffers vLLM keeps outside the KV cache",
    ),
    Assumption(
        "train_overhead_gib",
        2.0,
        "GiB/GPU",
        "assumed: CUDA context, NCCL buffers and allocator fragmentation in a training worker",
    ),
    Assumption(
        "activation_bytes_per_token_layer_hidden",
        34.0,
        "bytes",
        "Korthikanti et al. 2022 (arXiv 2205.05198), eq. 1 without the attention-score term "
        "(SDPA does not keep it), 16-bit, no activation checkpointing",
    ),
    Assumption(
        "sociot_relation_prompts",
        8,
        "prompts/response",
        "Cheng, Yu & Jurafsky 2025 (HumT DumT): 4 warm and 4 cold relations per scored text",
    ),
)


def resolve(overrides: Mapping[str, float]) -> dict[str, Assumption]:
    """The assumptions in effect: the defaults, with config overrides marked as their own source.

    Unknown names are refused when the config loads (warmray.config.PLAN_ASSUMPTIONS names the defaults).
    """
    out = {a.name: a for a in DEFAULTS}
    for name, value in overrides.items():
        out[name] = Assumption(name, float(value), out[name].unit, f"config: plan.assumptions.{name}")
    return out
