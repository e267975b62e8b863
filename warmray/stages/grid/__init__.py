"""The `grid` stage: benchmark items -> 28 prompt variants each (grid/prompts.parquet).

Per item (DESIGN.md point 5): `original` under `unmodified` and under each of the 8 interpersonal
contexts; `original_neutral` (a neutral lead-in, `unmodified` only); and `incorrect` / `correct` (the
user states a wrong answer / doubts the right one) under `unmodified` and each context:
9 + 1 + 9 x 2 = 28. A context statement is prepended to the user's message. Each context's statement,
and the wrong answer an item's `incorrect` rows name, are drawn with generators seeded by (run seed,
item id), so they stay put when the sample size or the task list changes. The wording lives in
warmray/prompts/templates.yaml and contexts.yaml.

An item that cannot fill its rows (no wrong answer that differs from every correct one) is set aside
in grid/rejects.parquet, as are source rows the loaders skipped. The grid is a few tens of thousands of
short rows, built in-process: a Ray Data pipeline would take longer to start than the work itself.
"""

from __future__ import annotations

import logging
from pathlib import Path

from warmray.config import GridConfig
from warmray.rundir import table_path
from warmray.schema import EvalItem, Reject, write_table
from warmray.stage import StageContext
from warmray.stages.grid.build import build_grid, load_contexts, split_usable
from warmray.tasks import EVAL_TASKS, load_items
from warmray.tasks.triviaqa import propose_wrong_answers

log = logging.getLogger(__name__)


def _load(cfg: GridConfig, seed: int, rejects: list[Reject]) -> list[EvalItem]:
    """The evaluation items of every task in the config, without repeats."""
    items: dict[str, EvalItem] = {}
    for task in cfg.tasks:
        if task.name not in EVAL_TASKS:
            log.info("grid: %s is a capability set, read by the capability stage; skipped here", task.name)
            continue
        loaded = load_items(task, cfg.data_dir, seed, rejects)
        if task.name == "triviaqa" and cfg.wrong_answer_model:
            model, engine, sampling = (
                cfg.wrong_answer_model,
                cfg.wrong_answer_engine,
                cfg.wrong_answer_sampling,
            )
            loaded = propose_wrong_answers(loaded, model, engine, sampling)
        for it in loaded:
            if it.item_id in items:
                log.warning("grid: item %s listed twice in grid.tasks; kept once", it.item_id)
            items.setdefault(it.item_id, it)
    return list(items.values())


def run(ctx: StageContext, out: Path) -> dict[str, int]:
    """Build the grid of the config's evaluation tasks into `out`; returns row counts per table."""
    cfg, seed = ctx.config.grid, ctx.config.seed
    rejects: list[Reject] = []
    items, set_aside = split_usable(_load(cfg, seed, rejects), cfg.prompt_templates, seed)
    rejects.extend(set_aside)
    rows = build_grid(items, cfg.prompt_templates, cfg.amendment_types, load_contexts(), seed)
    write_table(rows, table_path(out, "grid", "prompts"), "prompts")
    if rejects:
        write_table(rejects, table_path(out, "grid", "rejects"), "rejects")
    log.info("grid: %d prompts from %d items; %d set aside", len(rows), len(items), len(rejects))
    return {"prompts": len(rows), "items": len(items), "rejects": len(rejects)}
