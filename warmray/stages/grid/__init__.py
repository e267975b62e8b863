"""The `grid` stage: benchmark items -> 28 prompt variants each (grid/prompts.parquet).

Per item (DESIGN.md point 5; shapes in warmray.stages.grid.build): `original` under `unmodified` and
under each of the 8 interpersonal contexts; `original_neutral` (a neutral lead-in, `unmodified` only);
and `incorrect` / `correct` (the user states a wrong answer / doubts the right one) under `unmodified`
and each context: 9 + 1 + 9 x 2 = 28. Each prompt's context statement is drawn with a generator seeded
by (run seed, prompt id), so it stays put when the sample size or the task list changes. The statements
come from warmray/prompts/contexts.yaml, or from the file `grid.contexts` names. MedQA stems are sent
as published (`grid.medqa_stem`) and told as the user's relative on belief prompts
(`grid.medqa_as_relative`); a stem that cannot be recast is set aside before sampling.

Belief answers come from the task loaders (warmray.tasks): offline rules by default; with
`grid.wrong_answer_model` set, each task's LLM hook proposes them (TriviaQA wrong answers, TruthfulQA
wrong answers) and the loader's checks keep or reject each proposal. An item that cannot fill its
rows (no belief answer, or a MedQA stem with no relative form) is set aside in grid/rejects.parquet with
its reason, as are source rows the loaders skipped.
The grid is a few tens of thousands of short rows, built in-process: a Ray Data pipeline would take
longer to start than the work itself.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from warmray.config import GridConfig
from warmray.rundir import table_path
from warmray.schema import EVAL_TASKS, EvalItem, PromptRow, Reject, prompt_variants, write_table
from warmray.stage import StageContext
from warmray.stages.grid.build import build_grid, load_contexts, split_usable
from warmray.tasks import (
    Ask,
    complete_items,
    is_study_prompt_file,
    load_items,
    propose_beliefs,
    read_study_prompts,
    sample_items,
    with_stem_form,
)

log = logging.getLogger(__name__)


def _ask(cfg: GridConfig) -> Ask:
    """Prompts -> replies from the configured belief-answer model."""

    def ask(prompts: list[str]) -> list[str]:
        from warmray.infer import complete  # starts engines; only runs that ask an LLM need it

        messages = [[{"role": "user", "content": p}] for p in prompts]
        return complete(
            messages, str(cfg.wrong_answer_model), cfg.wrong_answer_engine, cfg.wrong_answer_sampling
        )

    return ask


def _load(cfg: GridConfig, seed: int, rejects: list[Reject]) -> list[EvalItem]:
    """The evaluation items of every task in the config, without repeats.

    Each task is read whole, and items that cannot fill the grid offline are set aside (into `rejects`)
    before the seeded sample is drawn, so the sample keeps its configured size. With a belief-answer
    model the belief check waits until its proposals are in (they may give an item its belief).
    """
    items: dict[str, EvalItem] = {}
    for task in cfg.tasks:
        if task.name not in EVAL_TASKS:
            log.info("grid: %s is a capability set, read by the capability stage; skipped here", task.name)
            continue
        if is_study_prompt_file(task.source):
            continue  # read as prompts, not items (`_study_rows`)
        whole = load_items(task.model_copy(update={"n": "all"}), cfg.data_dir, seed, rejects)
        whole = [with_stem_form(it, cfg.medqa_stem) for it in whole]
        usable, set_aside = split_usable(
            whole, cfg.prompt_templates, cfg.medqa_as_relative, beliefs=not cfg.wrong_answer_model
        )
        rejects.extend(set_aside)
        n = task.sample_size()
        if n is not None and n > len(usable):
            log.warning("%s: asked for %d items, %d can be used; using all", task.name, n, len(usable))
        loaded = sample_items(usable, n, seed)
        if cfg.wrong_answer_model:
            loaded = propose_beliefs(task.name, loaded, _ask(cfg), f"llm:{cfg.wrong_answer_model}")
        for it in loaded:
            if it.item_id in items:
                log.warning("grid: item %s listed twice in grid.tasks; kept once", it.item_id)
            items.setdefault(it.item_id, it)
    return list(items.values())


def _study_rows(cfg: GridConfig, seed: int, rejects: list[Reject]) -> tuple[list[PromptRow], int]:
    """Grid rows of the tasks whose source is one of the study's prompt files, and their item count.

    Rows keep the study's prompt text; only the configured templates and amendment types are kept, and
    the task's sample size is drawn over the file's items (seeded and nested, as for loaded items). Each
    file's count of items with every configured variant is logged.
    """
    wanted = set(prompt_variants(cfg.prompt_templates, cfg.amendment_types))
    rows: list[PromptRow] = []
    n_items = 0
    for task in cfg.tasks:
        if task.name not in EVAL_TASKS or not is_study_prompt_file(task.source):
            continue
        read, bad = read_study_prompts(str(task.source), task.name)
        rejects.extend(bad)
        read = [r for r in read if (r.prompt_template, r.amendment_type) in wanted]
        ids = sorted({r.item_id for r in read})
        n = task.sample_size()
        keep = set(ids) if n is None or n >= len(ids) else set(_sample_ids(ids, n, seed))
        read = [r for r in read if r.item_id in keep]
        complete = complete_items(read, sorted(wanted))
        log.info(
            "grid: %s from the study's prompt file %s: %d prompts, %d items, %d with all %d variants; "
            "%d rows set aside",
            task.name,
            task.source,
            len(read),
            len(keep),
            complete,
            len(wanted),
            len(bad),
        )
        rows.extend(read)
        n_items += len(keep)
    return rows, n_items


def _sample_ids(ids: list[str], n: int, seed: int) -> list[str]:
    """`n` of `ids`, chosen as `sample_items` chooses items (seeded rank, nested)."""
    stand_ins = [EvalItem(i, "", "", ()) for i in ids]
    return [it.item_id for it in sample_items(stand_ins, n, seed)]


def run(ctx: StageContext, out: Path) -> dict[str, int]:
    """Build the grid of the config's evaluation tasks into `out`.

    Returns:
        Counts for the stage's record: prompts, items, items with every configured variant
        (`complete_items`: all 28 in the full design) and rows set aside.
    """
    cfg, seed = ctx.config.grid, ctx.config.seed
    rejects: list[Reject] = []
    items, set_aside = split_usable(_load(cfg, seed, rejects), cfg.prompt_templates, cfg.medqa_as_relative)
    rejects.extend(set_aside)
    rows = build_grid(
        items,
        cfg.prompt_templates,
        cfg.amendment_types,
        load_contexts(cfg.contexts),
        seed,
        user_question=cfg.medqa_as_relative,
    )
    study, n_study = _study_rows(cfg, seed, rejects)
    known = {r.prompt_id for r in rows}
    rows.extend(r for r in study if r.prompt_id not in known)
    complete = complete_items(rows, prompt_variants(cfg.prompt_templates, cfg.amendment_types))
    write_table(rows, table_path(out, "grid", "prompts"), "prompts")
    if rejects:
        write_table(rejects, table_path(out, "grid", "rejects"), "rejects")
    sources = Counter(r.belief_source for r in rows if r.belief_source)
    log.info(
        "grid: %d prompts from %d items (%d with every variant); %d set aside; beliefs: %s",
        len(rows),
        len(items) + n_study,
        complete,
        len(rejects),
        dict(sources),
    )
    return {
        "prompts": len(rows),
        "items": len(items) + n_study,
        "complete_items": complete,
        "rejects": len(rejects),
    }
