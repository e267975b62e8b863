"""The workloads a plan is made of: vLLM engines and Ray Train runs, with their memory fit and hours.

Each function appends to `Ctx.problems` what cannot fit, naming the number and the setting that would,
and to `Ctx.warnings` what fits but should not run that way (a large model on a CPU engine).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from warmray.config import ConfigError, EngineConfig, ExperimentConfig, SamplingConfig
from warmray.plan import memory
from warmray.plan.hardware import Cluster
from warmray.plan.shapes import Shape, model_shape

SECONDS = 3600.0
_CPU_ENGINE_PARAMS = 1e9  # above this, a CPU engine is a configuration mistake on a GPU cluster


@dataclass(frozen=True)
class Work:
    """One Ray workload of a stage: an engine, a training run, hosted calls or CPU tasks."""

    stage: str
    name: str
    runs_on: str
    replicas: int = 1
    gpus_each: int = 0
    placement: str = ""
    rows: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    memory_gib: float | None = None
    gpu_hours: float = 0.0
    hours: float | None = None
    traced_gib: float | None = None  # a training rank's traced peak (warmray.plan.trace), when traced


@dataclass
class Ctx:
    """What every workload reads: the config, the cluster, the assumption values; and the problems."""

    cfg: ExperimentConfig
    cluster: Cluster
    a: dict[str, float]
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    traced: bool = False  # training memory is traced: the trace, not the formula, refuses a worker


def tokens_of(chars: float, ctx: Ctx) -> float:
    """Tokens of a text of `chars` characters, by the chars_per_token assumption."""
    return chars / ctx.a["chars_per_token"]


def engine_work(
    ctx: Ctx,
    stage: str,
    key: str,
    model: str,
    engine: EngineConfig,
    sampling: SamplingConfig,
    rows: int,
    in_tokens: float,
    out_tokens: float,
    *,
    lora_r: int | None = None,
    max_loras: int = 1,
) -> Work:
    """An LLM call of `rows` requests of about in_tokens -> out_tokens each, on its engine."""
    base = dict(stage=stage, name=model, rows=rows, input_tokens=round(rows * in_tokens))
    base["output_tokens"] = round(rows * min(out_tokens, sampling.max_tokens))
    if engine.endpoint:
        hours = rows / engine.qps / SECONDS if engine.qps else None
        return Work(runs_on=f"HTTP {engine.endpoint}", replicas=engine.concurrency, hours=hours, **base)
    if engine.device == "cpu":
        _warn_large_on_cpu(ctx, stage, model, engine)
        return Work(runs_on="vLLM on CPU", replicas=engine.concurrency, placement="1 CPU each", **base)
    return _gpu_engine(
        ctx, key, model, engine, in_tokens, min(out_tokens, sampling.max_tokens), base, lora_r, max_loras
    )


def _warn_large_on_cpu(ctx: Ctx, stage: str, model: str, engine: EngineConfig) -> None:
    """A model of billions of parameters on vLLM's CPU backend fits a big node's RAM but takes weeks."""
    try:
        params = model_shape(model, stage).params
    except ConfigError:  # an unknown shape: nothing to say about its size
        return
    if params > _CPU_ENGINE_PARAMS:
        gib = params * memory.dtype_bytes(engine.dtype) / memory.GIB
        ctx.warnings.append(
            f"{stage}: {model} ({params / 1e9:.0f}B parameters, {gib:.0f} GiB in {engine.dtype}) on a CPU "
            f"vLLM engine; hours not estimated. On GPUs set the config's top-level `device: gpu`."
        )


def _gpu_engine(
    ctx: Ctx,
    key: str,
    model: str,
    engine: EngineConfig,
    in_tokens: float,
    out_tokens: float,
    base: dict[str, Any],
    lora_r: int | None,
    max_loras: int,
) -> Work:
    cluster, a, tp = ctx.cluster, ctx.a, engine.tensor_parallel_size
    shape = model_shape(model, key)

    def fit(tp_: int) -> memory.EngineFit:
        return memory.engine_fit(
            shape,
            tensor_parallel=tp_,
            dtype=engine.dtype,
            gpu_gib=cluster.memory_gib,
            utilization=engine.gpu_memory_utilization,
            lora_r=lora_r,
            max_loras=max_loras,
            overhead_gib=a["engine_overhead_gib"],
        )

    enough = memory.smallest_tensor_parallel(shape, engine.max_model_len, cluster.gpus_per_node, fit)
    if tp > cluster.gpus_per_node:
        ctx.problems.append(
            f"{key}: tensor_parallel_size {tp} needs {tp} GPUs in one node (an engine is placed on one "
            f"node, STRICT_PACK; pipeline parallelism is refused), but nodes have {cluster.gpus_per_node}: "
            f"set tensor_parallel_size to at most {cluster.gpus_per_node}"
            + (f"; the smallest that fits {model} is {enough}." if enough else f"; {model} fits no node.")
        )
    elif tp * engine.concurrency > cluster.total_gpus:
        ctx.problems.append(
            f"{key}: {engine.concurrency} replicas x tensor_parallel_size {tp} = {tp * engine.concurrency} "
            f"GPUs, the cluster has {cluster.total_gpus}: set {base['stage']}.engine.concurrency to at most "
            f"{max(1, cluster.total_gpus // tp)}."
        )
    f = fit(tp)
    if f.kv_tokens < engine.max_model_len:
        advice = [f"tensor_parallel_size: {enough}"] if enough and enough > tp else []
        if f.kv_tokens >= 128:
            advice.append(f"{base['stage']}.engine.max_model_len: {f.kv_tokens} or less")
        ctx.problems.append(
            f"{key}: {model} at tensor_parallel_size {tp} on {cluster.gpu.name}: {f.weights_gib:.1f} GiB of "
            f"weights per GPU leave {max(0.0, f.kv_gib):.1f} GiB of KV cache = {f.kv_tokens} tokens, fewer "
            f"than {base['stage']}.engine.max_model_len {engine.max_model_len}: set "
            + (" or ".join(advice) if advice else "a GPU with more memory")
            + "."
        )
    hours = _engine_hours(shape, engine, f, in_tokens, out_tokens, base["rows"], ctx)
    return Work(
        runs_on="vLLM",
        replicas=engine.concurrency,
        gpus_each=tp,
        placement=f"{tp} x {{GPU: 1, CPU: 1}} STRICT_PACK",
        memory_gib=f.budget_gib,
        gpu_hours=hours * tp,
        hours=hours / engine.concurrency,
        **base,
    )


def _engine_hours(
    shape: Shape,
    engine: EngineConfig,
    f: memory.EngineFit,
    in_tokens: float,
    out_tokens: float,
    rows: int,
    ctx: Ctx,
) -> float:
    """Replica-hours: prefill at a compute ceiling, decode at the slower of bandwidth and compute."""
    gpu, a, tp = ctx.cluster.gpu, ctx.a, engine.tensor_parallel_size
    seq = max(1.0, in_tokens + out_tokens)
    batch = max(1, min(a["max_num_seqs"], f.kv_tokens // seq, rows))
    b = memory.dtype_bytes(engine.dtype)
    step_bytes = (
        f.weights_gib * memory.GIB + batch * (in_tokens + out_tokens / 2) * shape.kv_bytes_per_token(b) / tp
    )
    read_s = step_bytes / (gpu.bandwidth_gbs * 1e9 * a["bandwidth_efficiency"])
    compute_s = batch * 2 * shape.params / tp / (gpu.bf16_tflops * 1e12 * a["decode_mfu"])
    decode = rows * out_tokens / batch * max(read_s, compute_s)
    prefill = rows * in_tokens * 2 * shape.params / tp / (gpu.bf16_tflops * 1e12 * a["prefill_mfu"])
    return (decode + prefill) / SECONDS


def train_work(ctx: Ctx, i: int, style: str, per_example: float, examples: int) -> Work:
    """LoRA SFT of models[i] on one style: memory per worker (refused if over), GPU-hours at train_mfu."""
    model, cluster, a = ctx.cfg.models[i], ctx.cluster, ctx.a
    cfg = ctx.cfg.train.for_model(model)
    workers, strategy = cfg.num_workers, cfg.strategy
    trained = examples * min(cfg.max_length, per_example) * cfg.epochs
    base = dict(stage="train", name=f"{model.name}/{style}", rows=examples, output_tokens=round(trained))
    if cfg.device != "gpu":
        return Work(runs_on=f"Ray Train {strategy}, CPU", replicas=workers, placement="SPREAD", **base)
    shape = model_shape(model.source, f"models.{i}.source")

    def fit(n: int, strat: str = strategy, batch: int = cfg.per_device_batch_size) -> memory.Fit:
        return memory.train_fit(
            shape,
            strategy=strat,
            workers=n,
            dtype=cfg.dtype,
            batch=batch,
            max_length=cfg.max_length,
            lora_r=cfg.lora_r,
            gpu_gib=cluster.memory_gib,
            activation_factor=a["activation_bytes_per_token_layer_hidden"],
            overhead_gib=a["train_overhead_gib"],
        )

    f = fit(workers)
    if not f.fits and not ctx.traced and style == ctx.cfg.train.styles[0]:
        ctx.problems.append(_train_refusal(i, model.name, strategy, workers, f, fit, ctx))
    if workers > cluster.total_gpus and style == ctx.cfg.train.styles[0]:
        ctx.problems.append(
            f"models.{i} ({model.name}): {workers} training workers need {workers} GPUs, the cluster has "
            f"{cluster.total_gpus}: set models[{i}].train_workers to at most {cluster.total_gpus}."
        )
    compute = examples * min(cfg.max_length, per_example * a["padding_factor"]) * cfg.epochs
    flops = compute * (4 * shape.params + 6 * shape.lora_params(cfg.lora_r))
    gpu_hours = flops / (cluster.gpu.bf16_tflops * 1e12 * a["train_mfu"]) / SECONDS
    return Work(
        runs_on=f"Ray Train {strategy}",
        replicas=workers,
        gpus_each=1,
        placement="PACK",
        memory_gib=f.total_gib,
        gpu_hours=gpu_hours,
        hours=gpu_hours / workers,
        **base,
    )


def _train_refusal(
    i: int, name: str, strategy: str, workers: int, f: memory.Fit, fit: Callable[..., memory.Fit], ctx: Ctx
) -> str:
    parts = ", ".join(f"{k} {v:.1f}" for k, v in f.parts.items())
    head = (
        f"models.{i} ({name}): a {strategy} training worker needs {f.total_gib:.1f} GiB per GPU ({parts}), "
        f"a {ctx.cluster.gpu.name} has {f.available_gib:.1f}: "
    )
    if strategy == "ddp" and fit(workers, "fsdp").fits:
        return (
            head + f"set models[{i}].train_strategy: fsdp ({fit(workers, 'fsdp').total_gib:.1f} GiB per GPU)."
        )
    enough = memory.fsdp_workers_needed(lambda n: fit(n, "fsdp"), ctx.cluster.total_gpus)
    if enough and enough > workers:
        return head + f"set models[{i}].train_strategy: fsdp and train_workers: {enough}."
    if fit(workers, strategy, 1).fits:
        return head + f"set train.per_device_batch_size: 1 ({fit(workers, strategy, 1).total_gib:.1f} GiB)."
    return head + "shorten train.max_length or use GPUs with more memory."
