"""Before any stage runs: can every model and dataset the stages will load be had?

Loading the config already refused local paths that do not exist. What is left needs the network: a
Hugging Face model or dataset id is checked against the Hub (or, when the Hub cannot be reached, against
the local cache), and each benchmark task's source is resolved as its stage will resolve it. Every
problem is collected, so the user sees all of them at once, before minutes go into an engine start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from warmray.config import ConfigError, ExperimentConfig, TaskSource
from warmray.grading import grader_for
from warmray.models import BUILTIN_PREFIX

log = logging.getLogger(__name__)

_TIMEOUT_S = 15
Source = tuple[str, str, str]  # (config key, Hugging Face id, "model" | "dataset")


class PreflightError(ConfigError):
    """A model or dataset the run needs cannot be had; the message lists each with its reason."""


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
    from warmray.tasks import LOADERS
    from warmray.tasks.source import resolve_source

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
