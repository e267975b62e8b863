"""The `corpus` stage: read the configured source, build the corpus, write its Parquet tables.

Output (in the stage folder):
- `conversations.parquet`: the `conversations` table of `warmray.schema`; `turns` is
  list<struct<role, content>>, roles "user" / "assistant", alternating, user first, assistant last;
  split "train" (the training sample), then "spare" (replacements for the rewrite stage, in each
  category's order of preference).
- `rejects.parquet`: the columns of `warmray.schema.Reject`, one row per input record not kept.
- `val_prompts.parquet`: conversation_id, prompt_id, prompt, origin: the held-out prompts for warmth
  scoring, first user turns of filtered conversations outside the training sample and the spares
  (origin "unsampled"), unique, never from training (`warmray.stages.corpus.heldout`).
"""

from __future__ import annotations

import logging
from pathlib import Path

from warmray.rundir import schema_of, table_path
from warmray.schema import write_table
from warmray.stage import StageContext
from warmray.stages.corpus.build import CorpusTables, build_corpus
from warmray.stages.corpus.sources import iter_records, resolve_source
from warmray.stages.corpus.toxicity import make_filter

log = logging.getLogger(__name__)


def run(ctx: StageContext, out: Path) -> dict[str, int]:
    """Build the training corpus from `ctx.config.corpus` and write its tables into `out`."""
    config = ctx.config.corpus
    path = resolve_source(config.source, config.source_file)
    log.info("corpus: reading %s", path)
    scorer = make_filter(config.toxicity)
    tables = build_corpus(iter_records(path), config, ctx.config.seed, scorer, config.source)
    write_tables(tables, out)
    train = sum(c.split == "train" for c in tables.conversations)
    rows = {
        "conversations": len(tables.conversations),
        "train": train,
        "spares": len(tables.conversations) - train,
        "val_prompts": len(tables.val_prompts),
        "rejects": len(tables.rejects),
    }
    log.info("corpus: %d input records → %s", tables.input_rows, rows)
    return rows


def write_tables(tables: CorpusTables, out: Path) -> None:
    """Write the three tables as Parquet files into `out`."""
    for name, rows in (
        ("conversations", tables.conversations),
        ("rejects", tables.rejects),
        ("val_prompts", tables.val_prompts),
    ):
        write_table(rows, table_path(out, "corpus", name), schema_of("corpus", name))
