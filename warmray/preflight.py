"""Before any stage runs: can every model, adapter, dataset and endpoint the work needs be had?

Loading the config already refused local paths that do not exist. What is left needs the network or a
load: a Hugging Face model or dataset id is checked against the Hub (or, when the Hub cannot be reached,
against the local cache), each benchmark task's source is resolved as its stage will resolve it
(`preflight`), an endpoint is asked for its models with the key (`check_endpoint`, `check_run_endpoints`),
and a model the audit is given is loaded without its weights, its adapter's rank checked
(`model_problem`). Each check returns its problem as a sentence, or None; the callers collect them and
raise one PreflightError, so the user sees every problem at once, before minutes go into an engine start.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path

from warmray.config import VLLM_LORA_RANKS, ConfigError, ExperimentConfig, TaskSource
from warmray.models import BUILTIN_PREFIX, check_model_source, resolve_model

log = logging.getLogger(__name__)

_TIMEOUT_S = 15
Source = tuple[str, str, str]  # (config key, Hugging Face id, "model" | "dataset")


class PreflightError(ConfigError):
    """A model, dataset or endpoint the work needs cannot be had; the message lists each with its reason."""


def preflight(
    config: ExperimentConfig, stages: Iterable[str], check: Callable[[str, str], str | None]
) -> None:
    """Raise PreflightError listing every Hub id or task source the named stages cannot load.

    Args:
        config: the validated config.
        stages: the stages about to run (skipped ones need nothing).
        check: (Hugging Face id, "model" | "dataset") -> why it cannot be had, or None (`hub_problem`).
    """
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for stage in stages:
        for key, repo, kind in _STAGE_SOURCES.get(stage, _nothing)(config, problems):
            if (repo, kind) in seen:
                continue
            seen.add((repo, kind))
            why = check(repo, kind)
            if why:
                problems.append(f"  - {key}: {why}")
    if problems:
        raise PreflightError("\n".join(["cannot start; nothing was run:", *dict.fromkeys(problems)]))


def hub_problem(repo: str, kind: str) -> str | None:
    """Why the Hugging Face `kind` ("model" or "dataset") `repo` cannot be had, or None."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        HfApi().repo_info(repo, repo_type=kind, timeout=_TIMEOUT_S)
        return None
    except GatedRepoError:
        return (
            f"the Hugging Face {kind} {repo!r} is gated: accept its terms on the Hub and log in "
            "(`hf auth login`, or HF_TOKEN in the environment)."
        )
    except RepositoryNotFoundError:
        return (
            f"no {kind} {repo!r} on the Hugging Face hub (or it is private: log in with `hf auth login`). "
            "Check the id's spelling, or name a local folder."
        )
    except Exception as e:  # no network, DNS, proxy, timeout: the cache may still hold it
        if _cached(repo, kind):
            log.info("the Hub is unreachable (%s); %s %s is in the local cache", type(e).__name__, kind, repo)
            return None
        return (
            f"the Hugging Face hub cannot be reached ({type(e).__name__}: {str(e).splitlines()[0][:160]}) "
            f"and the {kind} {repo!r} is not in the local cache. Run where the Hub is reachable once, or "
            "point the config at a local copy."
        )


def _cached(repo: str, kind: str) -> bool:
    """Whether the Hugging Face cache holds a snapshot of the repo (offline runs load from it)."""
    from huggingface_hub import constants

    folder = Path(constants.HF_HUB_CACHE) / f"{kind}s--{repo.replace('/', '--')}" / "snapshots"
    return folder.is_dir() and any(folder.iterdir())


def _nothing(config: ExperimentConfig, problems: list[str]) -> list[Source]:
    return []


def _hub_model(key: str, source: str, endpoint: str | None = None) -> list[Source]:
    """The source as a Hub model id, or nothing when it is builtin, local or served by an endpoint."""
    if endpoint or source.startswith(BUILTIN_PREFIX) or Path(source).expanduser().exists():
        return []
    return [(key, source, "model")]


def _models(config: ExperimentConfig, problems: list[str]) -> list[Source]:
    return [
        s for i, m in enumerate(config.models) for s in _hub_model(f"models.{i}.source", m.source, m.endpoint)
    ]


def _tasks(
    section: str, tasks: tuple[TaskSource, ...], data_dir: str | None, problems: list[str]
) -> list[Source]:
    """Hub dataset ids of the tasks; a source that cannot resolve is a problem (missing file, no demo)."""
    from warmray.tasks import LOADERS, resolve_source

    found: list[Source] = []
    for i, task in enumerate(tasks):
        try:
            where = resolve_source(LOADERS[task.name].spec, task.source, data_dir)
        except (FileNotFoundError, ValueError) as e:
            problems.append(f"  - {section}.tasks.{i}.source: {e}")
            continue
        if isinstance(where, str):
            found.append((f"{section}.tasks.{i}.source", where, "dataset"))
    return found


def _corpus(config: ExperimentConfig, problems: list[str]) -> list[Source]:
    c = config.corpus
    found: list[Source] = []
    if not c.source.startswith(BUILTIN_PREFIX) and not Path(c.source).expanduser().exists():
        found.append(("corpus.source", c.source, "dataset"))
    if c.toxicity.kind == "model":
        found += _hub_model("corpus.toxicity.model", c.toxicity.model)
    return found


def _rewrite(config: ExperimentConfig, problems: list[str]) -> list[Source]:
    return _hub_model("rewrite.model", config.rewrite.model, config.rewrite.engine.endpoint)


def _grid(config: ExperimentConfig, problems: list[str]) -> list[Source]:
    g = config.grid
    found = _tasks("grid", g.tasks, g.data_dir, problems)
    if g.wrong_answer_model:
        found += _hub_model("grid.wrong_answer_model", g.wrong_answer_model, g.wrong_answer_engine.endpoint)
    return found


def _judge(config: ExperimentConfig, problems: list[str]) -> list[Source]:
    from warmray.grading import grader_for  # on use: grading loads pandas, the CLI starts without

    j = config.judge
    return _hub_model("judge.model", j.model, j.engine.endpoint) if grader_for(j.grader).needs_engine else []


def _warmth(config: ExperimentConfig, problems: list[str]) -> list[Source]:
    return _models(config, problems) + _hub_model("warmth.scorer", config.warmth.scorer)


def _capability(config: ExperimentConfig, problems: list[str]) -> list[Source]:
    c = config.capability
    return _models(config, problems) + _tasks("capability", c.tasks, c.data_dir, problems)


_STAGE_SOURCES: dict[str, Callable[[ExperimentConfig, list[str]], list[Source]]] = {
    "corpus": _corpus,
    "rewrite": _rewrite,
    "train": _models,
    "grid": _grid,
    "generate": _models,
    "judge": _judge,
    "warmth": _warmth,
    "capability": _capability,
}


def model_problem(source: str, adapter: str | None = None) -> str | None:
    """Why a model (and the LoRA adapter folder on top of it) cannot be served, or None.

    The source must exist (warmray.models), load its config and tokenizer, and have a chat template.
    """
    problem = check_model_source(source) or _loads(source)
    if problem is None and adapter:
        problem = check_adapter(Path(adapter).expanduser())
    return problem


def _loads(source: str) -> str | None:
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
    from warmray.grading import grader_for  # on use: see _judge

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
