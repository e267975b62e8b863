"""`warmray compare RUN_A RUN_B`: how far two runs differ, table by table, and in their effect sizes.

Two runs of one config with one seed should give the same tables; where an engine cannot promise that
(the stages the manifests name as nondeterministic), this measures what moved. Each table of the run
directory layout (warmray.rundir.TABLES) present in either run is joined on its stable ids (KEYS) and
every row counted as equal, different (with the columns that differ), or in one run only; the analysis's
own tables (analyze/tables/*.csv) are compared row by row in their order, and its effect sizes
(analyze/tables/glm_effects.csv) are also put side by side.

    warmray compare runs/tiny runs/tiny-again
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from warmray.errors import UserError
from warmray.manifest import read_manifest
from warmray.rundir import MANIFEST, TABLES
from warmray.schema import Col, read_checkpoint

# A table's stable ids, by its schema (warmray.schema): rows with the same ids are the same row.
KEYS: dict[str, tuple[str, ...]] = {
    "conversations": ("conversation_id",),
    "training_conversations": ("conversation_id", Col.STYLE),
    "val_prompts": ("prompt_id",),
    "rejects": ("stage", "row_id", "reason"),
    "rewrites": ("request_id",),
    "train_metrics": (Col.MODEL, Col.STYLE, "checkpoint_epoch"),
    "prompts": ("prompt_id",),
    "responses": ("response_id",),
    "verdicts": ("response_id",),
    "judge_agreement": ("scope", "level"),
    "warmth_scores": (Col.MODEL, Col.STYLE, Col.EPOCH, "prompt_id"),
    "warmth_by_epoch": (Col.MODEL, Col.STYLE, Col.EPOCH),
    "capability_scores": (Col.MODEL, Col.VARIANT, Col.CHECKPOINT, Col.TASK, Col.ITEM_ID),
}
ANALYSIS_TABLES = "tables"  # analyze/tables/*.csv: sorted by the analysis, compared in their order
EFFECT_KEYS = ("comparison", "glm", "factor", "level")
EFFECT_VALUES = ("ame_pp", "p_value")


class CompareError(UserError):
    """A folder given to compare is not a run directory."""


@dataclass
class TableDiff:
    """How one table of two runs compares, row by row on its stable ids."""

    name: str
    rows_a: int
    rows_b: int
    equal: int = 0
    different: int = 0
    only_a: int = 0
    only_b: int = 0
    columns: dict[str, int] = field(default_factory=dict)  # differing column -> rows where it differs

    @property
    def identical(self) -> bool:
        """Whether every row is in both runs and equal."""
        return self.different == self.only_a == self.only_b == 0 and self.rows_a == self.rows_b


def _cell_key(value: Any) -> Any:
    """A hashable, comparable form of a cell (lists and structs as nested tuples)."""
    if isinstance(value, np.ndarray | list | tuple):
        return tuple(_cell_key(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _cell_key(v)) for k, v in value.items()))
    if isinstance(value, float) and np.isnan(value):
        return "NaN"
    return value


def _same(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Row-wise equality of two aligned columns; floats equal within 1e-9 relative (NaN equals NaN)."""
    if pd.api.types.is_float_dtype(a) and pd.api.types.is_float_dtype(b):
        return np.isclose(a.to_numpy(), b.to_numpy(), rtol=1e-9, atol=0.0, equal_nan=True)
    return np.array([_cell_key(x) == _cell_key(y) for x, y in zip(a, b, strict=True)], dtype=bool)


def _row_ids(table: pd.DataFrame, keys: tuple[str, ...]) -> pd.Series:
    """Each row's ids as one hashable value, with its place among the rows that share them.

    Rows may share ids (a loss per step of one checkpoint): they are compared in their order, not dropped.
    """
    seen: Counter = Counter()
    ids = []
    for row in table[list(keys)].itertuples(index=False):
        key = _cell_key(tuple(row))
        ids.append((key, seen[key]))
        seen[key] += 1
    return pd.Series(ids, dtype=object)


def compare_tables(name: str, a: pd.DataFrame, b: pd.DataFrame, keys: tuple[str, ...]) -> TableDiff:
    """Join two versions of a table on `keys` and count equal, different and unmatched rows (pure).

    A column in one version only counts as differing on every matched row. Without its key columns
    (an older layout) the rows are compared as whole rows in order.
    """
    diff = TableDiff(name, len(a), len(b))
    if not set(keys) <= set(a.columns) & set(b.columns):
        keys = ()
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    if keys:
        ids_a, ids_b = _row_ids(a, keys), _row_ids(b, keys)
    else:
        ids_a, ids_b = pd.Series(range(len(a))), pd.Series(range(len(b)))
    a, b = a.set_axis(ids_a), b.set_axis(ids_b)
    shared = a.index.intersection(b.index, sort=False)
    diff.only_a, diff.only_b = len(a.index.difference(b.index)), len(b.index.difference(a.index))
    if not len(shared):
        return diff
    a, b = a.loc[shared], b.loc[shared]
    differs = np.zeros(len(shared), dtype=bool)
    for column in sorted((set(a.columns) | set(b.columns)) - set(keys)):
        if column in a.columns and column in b.columns:
            moved = ~_same(a[column], b[column])
        else:
            moved = np.ones(len(shared), dtype=bool)
        if moved.any():
            diff.columns[column] = int(moved.sum())
        differs |= moved
    diff.different, diff.equal = int(differs.sum()), int((~differs).sum())
    return diff


def effects_side_by_side(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """The analysis's effect sizes of two runs, joined on comparison, model, factor and level (pure)."""
    keys = [k for k in EFFECT_KEYS if k in a.columns and k in b.columns]
    values = [v for v in EFFECT_VALUES if v in a.columns and v in b.columns]
    both = a[keys + values].merge(b[keys + values], on=keys, how="outer", suffixes=("_a", "_b"))
    if "ame_pp" in values:
        both["ame_pp_diff"] = both["ame_pp_b"] - both["ame_pp_a"]
    return both


def _read(run: Path, stage: str, path: str) -> pd.DataFrame | None:
    target = run / stage / path
    if not (run / stage / MANIFEST).is_file() or not target.exists():
        return None
    frame = pd.read_parquet(target)
    if Col.CHECKPOINT in frame.columns:  # an older run's warmth spelling compares as today's
        frame[Col.CHECKPOINT] = frame[Col.CHECKPOINT].map(read_checkpoint)
    return frame


def _analysis_tables(run: Path) -> dict[str, pd.DataFrame]:
    """The analysis's CSV tables of a run whose analyze stage finished, by file stem."""
    if not (run / "analyze" / MANIFEST).is_file():
        return {}
    return {p.stem: pd.read_csv(p) for p in sorted((run / "analyze" / ANALYSIS_TABLES).glob("*.csv"))}


def nondeterministic(run: Path) -> dict[str, str]:
    """The stages whose manifest says their output may differ between two runs, with the reason."""
    found = {}
    for path in sorted(run.glob(f"*/{MANIFEST}")):
        note = read_manifest(path.parent).nondeterministic
        if note:
            found[path.parent.name] = note
    return found


def compare_runs(run_a: Path, run_b: Path) -> tuple[list[TableDiff], pd.DataFrame | None]:
    """Every table present in either run, compared; and the effect sizes side by side (None if absent).

    The stage tables are named `<stage>/<table>` (warmray.rundir.TABLES), the analysis's `analyze/<file>`.
    """
    for run in (run_a, run_b):
        if not run.is_dir() or not any(run.glob(f"*/{MANIFEST}")):
            raise CompareError(f"{run} is not a run directory: it holds no finished stage (*/{MANIFEST}).")
    diffs = []
    for (stage, table), (path, schema) in TABLES.items():
        a, b = _read(run_a, stage, path), _read(run_b, stage, path)
        if a is None and b is None:
            continue
        empty = pd.DataFrame()
        diffs.append(
            compare_tables(
                f"{stage}/{table}", a if a is not None else empty, b if b is not None else empty, KEYS[schema]
            )
        )
    analysis_a, analysis_b = _analysis_tables(run_a), _analysis_tables(run_b)
    for stem in sorted(analysis_a.keys() | analysis_b.keys()):
        a, b = analysis_a.get(stem, pd.DataFrame()), analysis_b.get(stem, pd.DataFrame())
        diffs.append(compare_tables(f"analyze/{stem}", a, b, ()))
    effects = [run / "analyze" / ANALYSIS_TABLES / "glm_effects.csv" for run in (run_a, run_b)]
    side = None
    if all(p.is_file() for p in effects):
        side = effects_side_by_side(pd.read_csv(effects[0]), pd.read_csv(effects[1]))
    return diffs, side


def format_report(diffs: list[TableDiff], effects: pd.DataFrame | None, notes: dict[str, str]) -> str:
    """The text `warmray compare` prints (pure)."""
    width = max([28, *(len(d.name) + 2 for d in diffs)])
    lines = [
        f"{'table':<{width}}{'rows A':>8}{'rows B':>8}{'equal':>8}{'differ':>8}{'only A':>8}{'only B':>8}"
    ]
    for d in diffs:
        lines.append(
            f"{d.name:<{width}}{d.rows_a:>8}{d.rows_b:>8}{d.equal:>8}{d.different:>8}{d.only_a:>8}{d.only_b:>8}"
            + (f"   differ in: {', '.join(f'{c} ({n})' for c, n in d.columns.items())}" if d.columns else "")
        )
    same = [d for d in diffs if d.identical]
    lines.append(f"\n{len(same)} of {len(diffs)} tables identical.")
    for stage, note in notes.items():
        lines.append(f"  {stage}: recorded as nondeterministic: {note}")
    if effects is not None:
        lines.append("\neffect sizes (analyze/tables/glm_effects.csv), A beside B:")
        lines.append(effects.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments: two run directories."""
    parser.add_argument("run_a", type=Path, metavar="RUN_A", help="a run directory")
    parser.add_argument("run_b", type=Path, metavar="RUN_B", help="another run directory (e.g. a rerun)")


def command(args: argparse.Namespace) -> int:
    """Print the comparison; exit 0 (differences are the answer, not an error)."""
    diffs, effects = compare_runs(args.run_a, args.run_b)
    notes = nondeterministic(args.run_a) | nondeterministic(args.run_b)
    args.console.say(format_report(diffs, effects, notes))
    return 0
