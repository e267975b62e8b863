"""Benchmark loaders: every source becomes a list of `warmray.schema.EvalItem`.

One module per benchmark (triviaqa, truthfulqa, medqa, mask = `disinformation`, mmlu, gsm8k, advbench,
demo), each a `warmray.tasks.source.Loader`: a row parser, where its rows live, and the passes that give
every evaluation item its belief answers (`finish`, offline and seeded; `propose`, through an LLM).
`load_items` reads a task from the Hugging Face hub, from a local file or folder in the published
format, or from a data folder laid out like the published sets, then samples it with a seed;
`propose_beliefs` lets the task's LLM hook replace belief answers. The evaluation tasks feed the grid;
the capability tasks are read by the capability stage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from warmray.config import TaskSource
from warmray.schema import CAPABILITY_TASKS, EVAL_TASKS, EvalItem, Reject
from warmray.tasks import advbench, demo, gsm8k, mask, medqa, mmlu, triviaqa, truthfulqa
from warmray.tasks.common import BELIEF_PROBLEM, RELATIVE_PROBLEM, BadRow, differs_from_all, sample_items
from warmray.tasks.medqa import with_stem_form
from warmray.tasks.mmlu import LETTERS as MMLU_LETTERS
from warmray.tasks.source import Ask, BenchmarkFileError, Loader, parse_rows, read_rows, resolve_source
from warmray.tasks.study_prompts import complete_items, is_study_prompt_file, read_study_prompts

__all__ = [
    "BELIEF_PROBLEM",
    "CAPABILITY_GRADERS",
    "CAPABILITY_TASKS",
    "EVAL_TASKS",
    "LOADERS",
    "MMLU_LETTERS",
    "RELATIVE_PROBLEM",
    "Ask",
    "BadRow",
    "BenchmarkFileError",
    "complete_items",
    "differs_from_all",
    "is_study_prompt_file",
    "load_items",
    "propose_beliefs",
    "read_study_prompts",
    "resolve_source",
    "sample_items",
    "with_stem_form",
]

log = logging.getLogger(__name__)

LOADERS: dict[str, Loader] = {
    m.LOADER.task: m.LOADER for m in (triviaqa, truthfulqa, medqa, mask, demo, mmlu, gsm8k, advbench)
}
# Each capability task's grader, beside its loader: (answer, item) -> (verdict, score).
CAPABILITY_GRADERS: dict[str, Callable[[str, EvalItem], tuple[str, float]]] = {
    m.LOADER.task: m.grade for m in (mmlu, gsm8k, advbench)
}


def load_items(
    task: TaskSource, data_dir: str | Path | None = None, seed: int = 0, rejects: list[Reject] | None = None
) -> list[EvalItem]:
    """The items of one task, sampled with `seed` to `task.sample_size()`.

    Args:
        task: which benchmark, its source (Hub id or local path; null: the default Hub id) and size.
        data_dir: a folder laid out like the published sets; when given it replaces `task.source`.
        seed: the run seed; sampling and per-item draws depend only on it and the item id.
        rejects: where to record source rows that were skipped (missing question or answer).

    Returns:
        The sampled items, in source order.

    Raises:
        BenchmarkFileError: the source lacks a required column, or none of its rows can be used.
    """
    loader = LOADERS[task.name]
    where = resolve_source(loader.spec, task.source, data_dir)
    items = parse_rows(loader, read_rows(loader.spec, where), where, rejects)
    if loader.finish is not None:
        items = loader.finish(items, seed)  # sees the whole source, so draws do not depend on the sample
    n = task.sample_size()
    if n is not None and n > len(items):
        log.warning("%s: asked for %d items, the source has %d; using all", task.name, n, len(items))
    return sample_items(items, n, seed)


def propose_beliefs(task: str, items: list[EvalItem], ask: Ask, label: str) -> list[EvalItem]:
    """The items with the belief answers an LLM proposed, where the task asks one and they pass its checks.

    Args:
        task: the task the items belong to.
        items: the task's items, with their offline beliefs (kept wherever a proposal is rejected).
        ask: prompts -> replies, in order.
        label: what the proposals' `belief_source` says, e.g. "llm:<model>".
    """
    hook = LOADERS[task].propose
    return hook(items, ask, label) if hook is not None and items else items
