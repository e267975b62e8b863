"""A plan of a whole config: per stage, what runs, the resources it asks Ray for, rows, tokens, GPU-hours.

Every number is an estimate from the config, the cluster shape and warmray.plan.assumptions; nothing
is run, no model is downloaded and Ray is not imported. A config that cannot fit is refused with every
problem found, each naming the number that does not fit and the setting that would.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from warmray.arms import Evaluation, list_arms, planned_lora_rank
from warmray.config import (
    ConfigError,
    EngineConfig,
    ExperimentConfig,
    ModelConfig,
    SamplingConfig,
    lora_slots,
)
from warmray.grading import grader_for
from warmray.plan import tokens
from warmray.plan.assumptions import Assumption, resolve
from warmray.plan.counts import Counts, count_rows
from warmray.plan.hardware import Cluster
from warmray.plan.shapes import model_shape
from warmray.plan.trace import Mode, TrainTrace, trace_training
from warmray.plan.workloads import SECONDS, Ctx, Work, engine_work, tokens_of, train_work
from warmray.rundir import RunDir

_FRAME_TOKENS = 8  # `My friend said, "..."` around a SocioT-scored text
_REWRITE_CONTEXT_CHARS = 3000  # the conversation tail the rewrite stage shows (its _CONTEXT_CHARS)


@dataclass(frozen=True)
class Plan:
    """The plan of one config on one cluster."""

    config: str
    cluster: Cluster
    token_source: str
    counts: Counts
    work: tuple[Work, ...]
    assumptions: tuple[Assumption, ...]
    warnings: tuple[str, ...] = ()
    traces: tuple[TrainTrace, ...] = ()  # traced memory of each GPU-trained model's workers

    @property
    def gpu_hours(self) -> float:
        """Estimated GPU-hours of the whole study."""
        return sum(w.gpu_hours for w in self.work)


def build_plan(
    cfg: ExperimentConfig, cluster: Cluster, run_dir: Path | None = None, trace: Mode = "off"
) -> Plan:
    """The plan of `cfg` on `cluster`; raises ConfigError listing everything that cannot fit.

    With `trace` other than "off", each GPU training worker's memory is traced (warmray.plan.trace, a
    child process with torch) and the trace, not the formula, decides whether it fits.
    """
    used = resolve(cfg.plan.assumptions)
    ctx = Ctx(cfg, cluster, {k: v.value for k, v in used.items()}, traced=trace != "off")
    a = ctx.a
    template = a["chat_template_tokens_per_turn"]
    corpus = tokens.estimate(
        a["chars_per_user_turn"],
        a["chars_per_assistant_turn"],
        a["assistant_turns_per_conversation"],
        a["chars_per_token"],
        template,
    )
    measured = tokens.measured(run_dir, cfg.models[0].source, template) if run_dir else None
    corpus = measured or corpus
    counts = count_rows(cfg, corpus.assistant_turns_per_conversation)
    work = [Work("corpus", cfg.corpus.source, "CPU (no Ray)", rows=counts.conversations)]
    work += _rewrite(ctx, counts, corpus)
    for i, m in enumerate(cfg.models):
        for style in cfg.train.styles if not m.endpoint else ():  # an endpoint's weights are not here
            work.append(train_work(ctx, i, style, corpus.per_conversation, counts.train_conversations))
    work += _grid(ctx, counts)
    work += _generate(ctx, counts)
    work += _judge(ctx, counts)
    work += _warmth(ctx, counts)
    work += _capability(ctx, counts)
    responses = counts.responses_per_model * len(cfg.models)
    work.append(Work("analyze", "GLM, McNemar, figures", "CPU (no Ray)", rows=responses))
    work, traces = trace_training(ctx, work, trace)
    if ctx.problems:
        raise ConfigError(
            "the config does not fit the cluster "
            f"({cluster.nodes} x {cluster.gpus_per_node} x {cluster.gpu.name}):\n"
            + "\n".join(f"  - {p}" for p in dict.fromkeys(ctx.problems))  # generate and warmth share engines
        )
    warnings = tuple(dict.fromkeys(ctx.warnings))
    return Plan(
        cfg.name, cluster, corpus.source, counts, tuple(work), tuple(used.values()), warnings, tuple(traces)
    )


def _rewrite(ctx: Ctx, counts: Counts, corpus: tokens.CorpusTokens) -> list[Work]:
    cfg = ctx.cfg.rewrite
    # Each turn is rewritten after the instructions, with the conversation so far as context.
    context = min(tokens_of(_REWRITE_CONTEXT_CHARS, ctx), corpus.per_conversation / 2)
    rows = counts.assistant_turns * len(cfg.styles)
    out = corpus.per_assistant_turn * ctx.a["rewrite_length_ratio"]
    in_tokens = _instruction_tokens("rewrite_warm.txt", ctx) + context + corpus.per_assistant_turn
    return [
        engine_work(
            ctx, "rewrite", "rewrite.model", cfg.model, cfg.engine, cfg.sampling, rows, in_tokens, out
        )
    ]


def _grid(ctx: Ctx, counts: Counts) -> list[Work]:
    cfg = ctx.cfg.grid
    work = [
        Work("grid", ", ".join(f"{k} {v}" for k, v in counts.items.items()), "CPU tasks", rows=counts.prompts)
    ]
    if cfg.wrong_answer_model:
        work.append(
            engine_work(
                ctx,
                "grid",
                "grid.wrong_answer_model",
                cfg.wrong_answer_model,
                cfg.wrong_answer_engine,
                cfg.wrong_answer_sampling,
                counts.wrong_answer_calls,
                _instruction_tokens("wrong_answer.txt", ctx) + tokens_of(ctx.a["chars_per_grid_prompt"], ctx),
                cfg.wrong_answer_sampling.max_tokens,
            )
        )
    return work


def _instruction_tokens(prompt_file: str, ctx: Ctx) -> float:
    """Tokens of one of warmray's packaged prompt files (the instructions sent with every row)."""
    text = resources.files("warmray").joinpath("prompts", prompt_file).read_text(encoding="utf-8")
    return tokens_of(len(text), ctx)


def _response_tokens(ctx: Ctx, sampling: SamplingConfig) -> float:
    return sampling.max_tokens * ctx.a["response_fraction_of_max_tokens"]


def _model_engine(engine: EngineConfig, m: ModelConfig) -> EngineConfig:
    """The engine that answers a policy model's prompts: its own endpoint, or vLLM at its TP size."""
    if m.endpoint:
        return engine.model_copy(update={"endpoint": m.endpoint, "api_key_env": m.api_key_env})
    return engine.model_copy(update={"tensor_parallel_size": m.tensor_parallel_size})


def _generate(ctx: Ctx, counts: Counts) -> list[Work]:
    cfg = ctx.cfg.generate
    prompt = tokens_of(ctx.a["chars_per_grid_prompt"], ctx) + 2 * ctx.a["chat_template_tokens_per_turn"]
    work = _policy_engines(ctx, "generate", cfg.engine, cfg.sampling, counts.responses_per_model, prompt)
    return [Work(**{**w.__dict__, "name": f"{w.name} ({len(cfg.variants)} variants)"}) for w in work]


def _judge(ctx: Ctx, counts: Counts) -> list[Work]:
    cfg = ctx.cfg.judge
    rows = counts.responses_per_model * len(ctx.cfg.models)
    if not grader_for(cfg.grader).needs_engine:
        return [Work("judge", f"{cfg.grader} grader + refusal rules", "CPU tasks", rows=rows)]
    # the judge's instructions, the question and reference, the response
    in_tokens = _instruction_tokens("judge.txt", ctx) + tokens_of(ctx.a["chars_per_grid_prompt"], ctx)
    in_tokens += _response_tokens(ctx, ctx.cfg.generate.sampling)
    return [
        engine_work(
            ctx,
            "judge",
            "judge.model",
            cfg.model,
            cfg.engine,
            cfg.sampling,
            rows,
            in_tokens,
            cfg.sampling.max_tokens,
        )
    ]


def _policy_engines(
    ctx: Ctx,
    stage: Evaluation,
    engine: EngineConfig,
    sampling: SamplingConfig,
    rows: int,
    prompt: float,
) -> list[Work]:
    """One engine per policy model answering `rows` prompts, its arms' adapters chosen per row."""
    work = []
    for i, m in enumerate(ctx.cfg.models):
        arms = list_arms(ctx.cfg, stage, RunDir(Path(ctx.cfg.run_dir)), m)
        adapters = len({a.adapter for a in arms if a.adapter})
        w = engine_work(
            ctx,
            stage,
            f"models.{i}.tensor_parallel_size",
            m.source,
            _model_engine(engine, m),
            sampling,
            rows,
            prompt,
            _response_tokens(ctx, sampling),
            lora_r=planned_lora_rank(ctx.cfg, arms),
            max_loras=lora_slots(adapters),
        )
        work.append(Work(**{**w.__dict__, "name": m.name}))
    return work


def _warmth(ctx: Ctx, counts: Counts) -> list[Work]:
    """The SocioT curve: held-out prompts answered at every checkpoint, then scored by a small LM."""
    cfg = ctx.cfg.warmth
    prompt = tokens_of(ctx.a["chars_per_user_turn"], ctx)
    work = _policy_engines(ctx, "warmth", cfg.engine, cfg.sampling, counts.sociot_responses_per_model, prompt)
    scorings = counts.sociot_responses_per_model * len(ctx.cfg.models) * int(ctx.a["sociot_relation_prompts"])
    scored = scorings * (tokens_of(cfg.max_chars, ctx) + _FRAME_TOKENS)
    flops = scored * 2 * model_shape(cfg.scorer, "warmth.scorer").params
    gpu = ctx.cluster.gpu
    hours = flops / (gpu.bf16_tflops * 1e12 * ctx.a["prefill_mfu"]) / SECONDS if cfg.device == "gpu" else 0.0
    scorer = Work(
        "warmth",
        f"SocioT scorer {cfg.scorer}",
        f"{cfg.device.upper()} actors",
        replicas=cfg.concurrency,
        gpus_each=1 if cfg.device == "gpu" else 0,
        rows=scorings,
        input_tokens=round(scored),
        gpu_hours=hours,
        hours=hours / cfg.concurrency if cfg.device == "gpu" else None,
    )
    return [*work, scorer]


def _capability(ctx: Ctx, counts: Counts) -> list[Work]:
    """MMLU, GSM8K and AdvBench answered by every capability variant of every model."""
    cfg = ctx.cfg.capability
    prompt = tokens_of(ctx.a["chars_per_grid_prompt"], ctx)
    return _policy_engines(
        ctx, "capability", cfg.engine, cfg.sampling, counts.capability_rows_per_model, prompt
    )
