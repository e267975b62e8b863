"""Before any work: can each target (and the judge) be reached, loaded and authenticated?

Every check returns the problem as one sentence, or None; `preflight` collects them so the user sees
every broken target at once, before minutes go into a grid and an engine start.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from warmray.audit.targets import Target
from warmray.config import VLLM_LORA_RANKS, ExperimentConfig
from warmray.errors import UserError
from warmray.grading import grader_for
from warmray.models import check_model_source, resolve_model

_TIMEOUT_S = 15


class PreflightError(UserError, RuntimeError):
    """One or more targets cannot be used; the message lists each with its reason."""


def preflight(targets: list[Target], names: list[str], judge: Target | None) -> None:
    """Check every target and the judge; raise PreflightError listing all that fail."""
    problems = [f"  - {n} ({t.text}): {p}" for t, n in zip(targets, names, strict=True) if (p := check(t))]
    if judge is not None and (p := check(judge)):
        problems.append(f"  - judge ({judge.text}): {p}")
    if problems:
        raise PreflightError("\n".join(["cannot audit; nothing was run:", *problems]))


def check(target: Target) -> str | None:
    """Why this target cannot be used, or None when it answered, loaded and accepted the key."""
    if target.kind == "endpoint":
        return check_endpoint(target.endpoint or "", target.source, target.api_key_env)
    problem = check_model_source(target.source) or _check_loads(target.source)
    if problem is None and target.adapter:
        problem = check_adapter(Path(target.adapter).expanduser())
    return problem


def _check_loads(source: str) -> str | None:
    """Load the model's config and tokenizer (from the cache, the Hub or the folder), not its weights."""
    from transformers import AutoConfig, AutoTokenizer

    try:
        path = resolve_model(source)  # builds a builtin model once, if it is not cached yet
        AutoConfig.from_pretrained(path)
        tokenizer = AutoTokenizer.from_pretrained(path)
    except Exception as e:  # transformers raises OSError, ValueError, HTTP errors: all mean "cannot load"
        return f"cannot be loaded ({type(e).__name__}: {str(e).splitlines()[0][:300]})"
    if not tokenizer.chat_template:
        return "its tokenizer has no chat template, so it cannot be sent chat messages."
    return None


def check_adapter(folder: Path) -> str | None:
    """Why a LoRA adapter folder cannot be served by vLLM, or None."""
    config = folder / "adapter_config.json"
    if not config.is_file():
        return f"adapter folder {folder} has no adapter_config.json: not a PEFT adapter."
    try:
        rank = int(json.loads(config.read_text()).get("r", 0))
    except (ValueError, TypeError) as e:
        return f"{config} cannot be read: {e}"
    if not 0 < rank <= VLLM_LORA_RANKS[-1]:
        return f"adapter rank r={rank} is outside what vLLM serves (1..{VLLM_LORA_RANKS[-1]})."
    return None


def check_endpoint(base_url: str, model: str, key_env: str) -> str | None:
    """Ask the endpoint's /models with the key; say what went wrong in the user's terms."""
    key = os.environ.get(key_env, "")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    request = urllib.request.Request(base_url.rstrip("/") + "/models", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as resp:
            listing = json.loads(resp.read().decode("utf-8", "replace"))
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):
            said = f"the key in ${key_env}" if key else f"no key (${key_env} is not set)"
            return f"the endpoint refused {said} (HTTP {e.code})."
        if e.code == 404:
            return f"{base_url}/models does not exist (HTTP 404): give the base URL that ends in /v1."
        return f"the endpoint answered HTTP {e.code} to {base_url}/models."
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        reason = getattr(e, "reason", e)
        return f"cannot reach {base_url} ({reason})."
    except ValueError:
        return f"{base_url}/models did not answer JSON: is this an OpenAI-compatible endpoint?"
    served = [m.get("id") for m in listing.get("data", []) if isinstance(m, dict)]
    if served and model not in served:
        return f"the endpoint does not serve {model!r}; it serves {served}."
    return None


def run_endpoints(config: ExperimentConfig, stages: list[str]) -> list[tuple[str, str, str, str]]:
    """(stage, base URL, model name, key variable) of every endpoint the given stages of a run ask (pure).

    A model with its own endpoint is asked by the stages that answer with the models (generate, warmth,
    capability); a stage's engine with an endpoint is asked for the stage's own model (rewrite, the
    grid's wrong-answer model, an LLM judge). Each (URL, model) once, in stage order.
    """
    found: dict[tuple[str, str], tuple[str, str, str, str]] = {}

    def add(stage: str, url: str | None, model: str | None, key_env: str) -> None:
        if url and model and stage in stages:
            found.setdefault((url, model), (stage, url, model, key_env))

    add("rewrite", config.rewrite.engine.endpoint, config.rewrite.model, config.rewrite.engine.api_key_env)
    grid = config.grid
    add(
        "grid",
        grid.wrong_answer_engine.endpoint,
        grid.wrong_answer_model,
        grid.wrong_answer_engine.api_key_env,
    )
    for stage in ("generate", "warmth", "capability"):
        engine = getattr(config, stage).engine
        for m in config.models:
            key_env = m.api_key_env if m.endpoint else engine.api_key_env
            add(stage, m.endpoint or engine.endpoint, m.source, key_env)
    if grader_for(config.judge.grader).needs_engine:
        add("judge", config.judge.engine.endpoint, config.judge.model, config.judge.engine.api_key_env)
    return list(found.values())


def check_run_endpoints(config: ExperimentConfig, stages: list[str]) -> None:
    """Ask every endpoint the stages about to run will use, before Ray starts; PreflightError lists all."""
    problems = [
        f"  - {stage} ({url}, model {model}): {problem}"
        for stage, url, model, key_env in run_endpoints(config, stages)
        if (problem := check_endpoint(url, model, key_env))
    ]
    if problems:
        raise PreflightError(
            "\n".join(["an endpoint in the config cannot be used; nothing was run:", *problems])
        )
