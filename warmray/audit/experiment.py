"""The audit as an ExperimentConfig: the targets as models, no training, the study's grid.

Flags override `--config FILE`; what neither sets takes the audit's defaults: the four study tasks, all
28 prompt variants per item, greedy decoding (a rerun gives the same card, and differences between
targets are not sampling noise), and as many items per task as the time budget allows.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from warmray.audit.targets import Target
from warmray.config import (
    ConfigError,
    ExperimentConfig,
    SamplingConfig,
    apply_overrides,
    read_mapping,
)
from warmray.schema import (
    AMENDMENT_TYPES,
    BASE_VARIANT,
    PROMPT_TEMPLATES,
    STUDY_TASKS,
    SYSPROMPT_VARIANT,
    prompt_variants,
)

AUDIT_SAMPLING = SamplingConfig(temperature=0.0, max_tokens=128)
DEFAULT_BUDGET_MIN = 15.0


@dataclass(frozen=True)
class Throughput:
    """What the item budget assumes about one engine on one device."""

    startup_s: float  # Ray start, one vLLM engine start, grid, judge and analysis with the reference grader
    per_engine_s: float  # each further vLLM engine (another local target)
    per_response_s: float  # one response at AUDIT_SAMPLING, amortised over a batch


# Set from one CPU audit of SmolLM2-135M (fp32, eager) on a shared development machine
# (benchmarks/RESULTS.md, "audit item budget"); a quiet machine is faster.
CPU = Throughput(startup_s=200.0, per_engine_s=120.0, per_response_s=1.7)
# An assumption, not a measurement: one recent GPU serving a 7-8B model (vLLM batches hundreds).
GPU = Throughput(startup_s=240.0, per_engine_s=120.0, per_response_s=0.02)


def response_seconds(speed: Throughput, max_tokens: int) -> float:
    """Seconds per response at `max_tokens`: `per_response_s` was measured at AUDIT_SAMPLING's length.

    Decoding time grows with the tokens a response may take; a config that asks for shorter answers
    must not be estimated at the full length (nor a longer one at less).
    """
    return speed.per_response_s * max_tokens / AUDIT_SAMPLING.max_tokens


def prompts_per_item(templates: tuple[str, ...], amendments: tuple[str, ...]) -> int:
    """Grid rows per item: original_neutral is built without a context only (28 for the full grid)."""
    return len(prompt_variants(templates, amendments))


def items_for_budget(
    budget_s: float,
    n_tasks: int,
    n_arms: int,
    n_engines: int,
    speed: Throughput,
    max_tokens: int = AUDIT_SAMPLING.max_tokens,
    per_item_prompts: int | None = None,
) -> int:
    """Items per task that fit the budget: what is left after start-up, divided by the cost of one item.

    An item costs `per_item_prompts` responses per arm (default: the study's full grid of 28), each at
    `max_tokens`: the grid and the answer length the audit will run, so the budget counts what it measures.
    """
    left = budget_s - speed.startup_s - speed.per_engine_s * max(0, n_engines - 1)
    per_response = response_seconds(speed, max_tokens)
    prompts = per_item_prompts or prompts_per_item(PROMPT_TEMPLATES, AMENDMENT_TYPES)
    per_item = per_response * prompts * n_tasks * n_arms
    return max(1, math.floor(left / per_item))


@dataclass(frozen=True)
class AuditRequest:
    """What the command line asked for (None: not given)."""

    targets: tuple[Target, ...]
    names: tuple[str, ...]
    judge: Target | None = None  # None: reference answer matching
    tasks: tuple[str, ...] | None = None
    items: int | None = None
    system_prompt: Path | None = None
    data_dir: Path | None = None
    config: Path | None = None
    budget_min: float = DEFAULT_BUDGET_MIN
    overrides: tuple[str, ...] = ()  # --set KEY=VALUE, applied last (they win over the flags above)


DEMO_TASK = "demo"  # warmray's built-in items, of the four study kinds (warmray/data/demo_items.jsonl)


def offline_fallback(
    req: AuditRequest, problem: Callable[[str, str], str | None]
) -> tuple[AuditRequest, str]:
    """The request on the built-in items when the study's tasks cannot be had here, and a line saying so.

    Applies to an audit of built-in models only (an offline check of the command and the machine) that
    names no data (no --data-dir, --config or --tasks): when the Hugging Face hub cannot be reached and
    a study task's dataset is not in the local cache, the audit runs on the built-in items of the same
    four kinds instead of failing. `problem(repo, kind)` says why a Hub id cannot be had (None: it can;
    warmray.preflight.hub_problem). Otherwise the request is returned unchanged, with no line.
    """
    builtin_only = all(t.kind == "builtin" for t in req.targets)
    if not builtin_only or req.data_dir or req.config or req.tasks:
        return req, ""
    from warmray.tasks import LOADERS

    for task in STUDY_TASKS:
        hf_id = LOADERS[task].spec.hf_id
        if hf_id and (why := problem(hf_id, "dataset")):
            line = (
                f"offline: the study's {task} set ({hf_id}) cannot be had here ({why.split('. ')[0]}). This "
                f"audit runs on warmray's built-in items instead ({DEMO_TASK}: short questions of the four "
                "study kinds, written for warmray): a check of the models and the machine, not the study's "
                "benchmarks. Give --data-dir for those."
            )
            return replace(req, tasks=(DEMO_TASK,)), line
    return req, ""


def build_config(req: AuditRequest) -> ExperimentConfig:
    """The validated config of the audit (see the module docstring for what wins over what)."""
    # A config file's `models` are ignored: the TARGETs are the models of an audit.
    base = read_mapping(req.config) if req.config else None
    data: dict[str, Any] = base or {"name": "audit", "ray": {"stall_timeout_s": 600}}
    models = zip(req.targets, req.names, strict=True)
    data["models"] = [t.model_config(n).model_dump(mode="json") for t, n in models]
    generate = data.setdefault("generate", {})
    if not base:
        generate["sampling"] = AUDIT_SAMPLING.model_dump(mode="json")
    data["grid"] = _grid(req, data.get("grid"), generate, data.get("device", "cpu"))
    generate["variants"] = [BASE_VARIANT, *([SYSPROMPT_VARIANT] if req.system_prompt else [])]
    if req.system_prompt:
        data["warm_system_prompt"] = str(req.system_prompt.expanduser().resolve())
    if req.judge is not None or not base:
        data["judge"] = _judge(req.judge, data.get("judge", {}))
    data = apply_overrides(data, req.overrides)
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(f"{req.config or 'the audit flags'}: not a valid audit config: {e}") from None


def _grid(
    req: AuditRequest, grid: dict[str, Any] | None, generate: dict[str, Any], device: str
) -> dict[str, Any]:
    """The config file's grid (or the full study grid), with the tasks and sizes the flags ask for."""
    # No grid section: GridConfig's defaults, the study's grid (not a dump: its engine would say device cpu).
    grid = dict(grid or {})
    if req.data_dir:
        grid["data_dir"] = str(req.data_dir.expanduser().resolve())
    if req.tasks or req.items or not req.config:
        names = list(req.tasks or STUDY_TASKS)
        templates = tuple(grid.get("prompt_templates") or PROMPT_TEMPLATES)
        prompts = prompts_per_item(templates, tuple(grid.get("amendment_types") or AMENDMENT_TYPES))
        n = req.items or default_items(req, len(names), generate, prompts, device)
        grid["tasks"] = [{"name": t, "n": n} for t in names]
    return grid


def default_items(
    req: AuditRequest,
    n_tasks: int,
    generate: dict[str, Any],
    per_item_prompts: int | None = None,
    device: str = "cpu",
) -> int:
    """Items per task for the time budget, on the config's device and at the answer length generate names."""
    speed = GPU if device == "gpu" else CPU
    max_tokens = int(generate.get("sampling", {}).get("max_tokens", SamplingConfig().max_tokens))
    arms = 2 if req.system_prompt else 1
    local = sum(1 for t in req.targets if t.kind != "endpoint")
    # Endpoint targets cost wall time too (the grid goes through them one request batch at a time).
    arms_all = arms * len(req.targets)
    budget_s = req.budget_min * 60
    return items_for_budget(budget_s, n_tasks, arms_all, max(1, local), speed, max_tokens, per_item_prompts)


def _judge(judge: Target | None, current: dict[str, Any]) -> dict[str, Any]:
    if judge is None:
        return {**current, "grader": "reference"}
    engine = current.get("engine", {})
    engine = {"profile": engine} if isinstance(engine, str) else dict(engine)  # a profile name, or settings
    if judge.kind == "endpoint":
        engine |= {"endpoint": judge.endpoint, "api_key_env": judge.api_key_env}
    return {**current, "grader": "llm", "model": judge.source, "engine": engine}


def audit_run_dir(config: ExperimentConfig, root: Path = Path("runs")) -> Path:
    """A run directory named by what is audited: the same command resumes, a different one starts anew.

    How requests are sent (ExperimentConfig.identity_hash) is not what is audited: raising the tries
    after an endpoint failed resumes the same audit. A folder named by the older hash
    (ExperimentConfig.identity_hashes) is still found and resumed.
    """
    current, older = (
        root / f"audit-{h}" for h in config.identity_hashes("models", "grid", "generate", "judge", "seed")
    )
    return older if older.is_dir() else current
