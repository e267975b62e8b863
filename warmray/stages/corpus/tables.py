"""The `corpus` stage: read the configured source, build the corpus, write its Parquet tables.

Output (in the stage folder):
- `conversations.parquet`: the columns of `warmray.schema.Conversation`; `turns` is
  list<struct<role, content>>, roles "user" / "assistant", alternating, user first, assistant last.
- `rejects.parquet`: the columns of `warmray.schema.Reject`, one row per input record not kept.
- `val_prompts.parquet`: conversation_id, prompt_id, prompt, origin: the held-out prompts for warmth
  scoring, first user turns of validation conversations (origin "val") and then of filtered but
  unsampled conversations (origin "unsampled"), unique, never from training (`warmray.stages.corpus.heldout`).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from warmray.stage import StageContext
from warmray.stages.corpus.build import CorpusTables, build_corpus
from warmray.stages.corpus.sources import iter_records, resolve_source
from warmray.stages.corpus.toxicity import make_filter

log = logging.getLogger(__name__)

TURN_TYPE = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
CONVERSATIONS_SCHEMA = pa.schema(
    [
        ("conversation_id", pa.string()),
        ("category", pa.string()),
        ("turns", TURN_TYPE),
        ("split", pa.string()),
        ("source", pa.string()),
    ]
)
REJECTS_SCHEMA = pa.schema([(name, pa.string()) for name in ("stage", "row_id", "reason", "detail")])
VAL_PROMPTS_SCHEMA = pa.schema(
    [(name, pa.string()) for name in ("conversation_id", "prompt_id", "prompt", "origin")]
)


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
        "val": len(tables.conversations) - train,
        "val_prompts": len(tables.val_prompts),
        "rejects": len(tables.rejects),
    }
    log.info("corpus: %d input records → %s", tables.input_rows, rows)
    return rows


def write_tables(tables: CorpusTables, out: Path) -> None:
    """Write the three tables as Parquet files into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    _write([asdict(c) for c in tables.conversations], CONVERSATIONS_SCHEMA, out / "conversations.parquet")
    _write([asdict(r) for r in tables.rejects], REJECTS_SCHEMA, out / "rejects.parquet")
    _write(tables.val_prompts, VAL_PROMPTS_SCHEMA, out / "val_prompts.parquet")


def _write(rows: list[dict], schema: pa.Schema, path: Path) -> None:
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
