"""Resuming a row-wise stage: which input rows are done, and the final table without gaps or duplicates.

A stage that maps rows through an LLM writes Parquet files into a folder as batches finish. After an
interruption, `remaining` finds the rows not yet written (unreadable, half-written files are ignored and
their rows redone); `collect` reads the folder back, keeps one row per key and refuses to finish with a gap.
A retried stage (warmray.stage) keeps the rows it had and adds the ones asked again: `merged`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

log = logging.getLogger(__name__)


def _readable_parts(folder: Path) -> list[Path]:
    parts = []
    for path in sorted(folder.glob("*.parquet")):
        try:
            pq.read_metadata(path)
        except Exception:  # a file cut off by a kill has no footer: its rows are redone
            log.warning("ignoring unreadable partial output %s", path.name)
            path.unlink()
            continue
        parts.append(path)
    return parts


def count_rows(folder: Path) -> int:
    """Rows in the folder's complete Parquet files (safe while a writer adds files: reads footers only)."""
    total = 0
    for path in folder.glob("*.parquet") if folder.is_dir() else ():
        try:
            total += pq.read_metadata(path).num_rows
        except Exception:  # a file being written has no footer yet
            continue
    return total


def done_keys(folder: Path, key: str) -> set[str]:
    """Keys of rows already written to the folder."""
    if not folder.is_dir():
        return set()
    keys: set[str] = set()
    for path in _readable_parts(folder):
        keys.update(pq.read_table(path, columns=[key]).column(key).to_pylist())
    return keys


def remaining(frame: pd.DataFrame, key: str, folder: Path) -> pd.DataFrame:
    """The rows of frame whose key is not yet in the folder."""
    done = done_keys(folder, key)
    if done:
        log.info("resuming: %d of %d rows already done", len(done & set(frame[key])), len(frame))
    return frame[~frame[key].isin(done)]


def collect(folder: Path, key: str, expected: pd.Series) -> pd.DataFrame:
    """All rows written to the folder, one per key, in the order of `expected`; error on a gap."""
    parts = _readable_parts(folder) if folder.is_dir() else []
    table = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True) if parts else pd.DataFrame()
    if table.empty:
        table = pd.DataFrame({key: pd.Series(dtype=str)})
    table = table.drop_duplicates(subset=[key], keep="first")
    missing = set(expected) - set(table[key])
    if missing:
        raise RuntimeError(f"{folder}: {len(missing)} rows have no output (e.g. {sorted(missing)[:3]})")
    order = {k: i for i, k in enumerate(expected)}
    table = table[table[key].isin(order)]
    return table.sort_values(key, key=lambda s: s.map(order)).reset_index(drop=True)


def row_keys(frame: pd.DataFrame, key_columns: Sequence[str]) -> pd.Series:
    """One string key per row, joined from `key_columns`: for `merged`, when a table has no id column."""
    rows = frame[list(key_columns)].itertuples(index=False)
    return pd.Series(["|".join(map(str, row)) for row in rows], index=frame.index, dtype=str)


def merged(kept: pd.DataFrame, new: pd.DataFrame, key: str, order: list[str] | pd.Series) -> pd.DataFrame:
    """`kept` rows with `new` ones (which win on a shared key), in the order of `order`'s keys.

    Keys of `order` in neither frame are left out (a row set aside); columns are `kept`'s.
    """
    rows = pd.concat([kept[~kept[key].isin(new[key])], new[kept.columns]]).set_index(key)
    return rows.loc[[k for k in order if k in rows.index]].reset_index()[list(kept.columns)]
