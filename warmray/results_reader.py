"""One reader for every command that reads results (`analyze --from`, `judge --from`, `judge-agreement`).

Each path given may be:
- a CSV or Parquet file in our columns (a `responses` or `verdicts` table, or anything with our names);
- a folder of such files (Parquet, else CSV);
- one of our run directories (its judge verdicts, the reference grader's where its analysis read those,
  else its generated responses) or its `judge/` folder;
- the study's released outputs folder, `<root>/<model>/<variant>/<task>_<variant>_outputs.csv`, or some of
  its files (reference answers those files lack are joined from the same model's `original` file).

Every table comes out in our column names and vocabulary (warmray.statistics.released), and the
reader says what it found, so a user sees at once that the right thing was read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from warmray.errors import UserError
from warmray.grading import grader_for, grader_names
from warmray.manifest import read_manifest
from warmray.rundir import table_path
from warmray.schema import ANALYSIS_COLUMNS, Col
from warmray.statistics import (
    ReleasedLayoutError,
    canonical_values,
    read_released,
    released_file_root,
    released_files,
    rename_columns,
)

__all__ = ["Part", "Results", "ResultsInputError", "read_results"]

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
# Columns read as text from CSV: ids like "0012" stay strings.
_TEXT_FILLED = (Col.RESPONSE, "output", Col.CHECKPOINT, "grader", "inference_error")
_TEXT_COLUMNS = (
    *ANALYSIS_COLUMNS,
    *(Col.CHECKPOINT, "grader", "prompt_id", "response_id", "belief_source", "inference_error"),
)
LAYOUT = "<model>/<variant>/<task>_<variant>_outputs.csv"


class ResultsInputError(UserError, ValueError):
    """A results path that cannot be read; the message names it and what would be accepted."""


@dataclass
class Part:
    """The rows read from one path given, with what it was."""

    source: str  # the path as given
    kind: str  # "table", "folder", "run directory", "released layout"
    files: list[Path]
    frame: pd.DataFrame


@dataclass
class Results:
    """Everything read, per path and together."""

    parts: list[Part] = field(default_factory=list)

    @property
    def frame(self) -> pd.DataFrame:
        """All rows, one frame (columns a part lacks are missing values)."""
        return pd.concat([p.frame for p in self.parts], ignore_index=True)

    def summary(self) -> str:
        """What was read, e.g. "8 files, 2 models, 4 tasks, 3,184 rows (released layout)"."""
        frame = self.frame
        counts = [(len({f for p in self.parts for f in p.files}), "file")]
        counts += [(frame[c].nunique(), c) for c in (Col.MODEL, Col.TASK, Col.VARIANT) if c in frame.columns]
        text = ", ".join(f"{n:,} {what}{'' if n == 1 else 's'}" for n, what in counts)
        kinds = sorted({p.kind for p in self.parts})
        return f"{text}, {len(frame):,} row{'' if len(frame) == 1 else 's'} ({', '.join(kinds)})"


def read_results(paths: Sequence[Path | str]) -> Results:
    """Read every path (see the module docstring) into one `Results`.

    Released files given one by one are read together per layout root, so the files of one model share
    their `original` file's reference answers.

    Raises:
        ResultsInputError: no path, a missing path, an unreadable file, or a folder of nothing we read.
    """
    if not paths:
        raise ResultsInputError(
            "no results given; pass files (CSV/Parquet), folders, a run directory or the study's released "
            f"outputs folder ({LAYOUT})."
        )
    results = Results()
    released: dict[Path, list[Path]] = {}
    for path in map(Path, paths):
        if not path.exists():
            raise ResultsInputError(f"{path}: no such file or folder.")
        root = released_file_root(path) if path.is_file() else None
        if root is not None:
            released.setdefault(root, []).append(path)
        else:
            results.parts.append(_read_path(path))
    for root, files in released.items():
        results.parts.append(_released(root, files, source=", ".join(str(f) for f in files)))
    for part in results.parts:
        if part.frame.empty:
            raise ResultsInputError(f"{part.source}: holds no rows; nothing to read.")
    return results


def _read_path(path: Path) -> Part:
    if path.is_file():
        return Part(str(path), "table", [path], _read_table(path))
    run_table = _run_table(path)
    if run_table is not None:
        files = _table_files(run_table)
        kind = f"run directory: {run_table.parent.name}/{run_table.name}"
        return Part(str(path), kind, files, _concat(files, run_table))
    if released_files(path):
        return _released(path, None, source=str(path))
    files = _table_files(path)
    return Part(str(path), "folder", files, _concat(files, path))


def _run_table(path: Path) -> Path | None:
    """The table a run directory (or its judge/ or generate/ folder) holds results in, if it is one.

    A run's judge verdicts: the reference grader's kept beside an LLM judge's when its analysis read those
    (analyze.verdicts: reference), so `analyze --from RUN_DIR` analyses what the run's report did.
    """
    for stage, table in (("judge", "verdicts"), ("generate", "responses")):
        for folder in (path / stage, path if path.name == stage else None):
            if folder is not None and table_path(folder, stage, table).is_dir():
                if stage == "judge" and _analysed_reference(folder.parent):
                    return table_path(folder, stage, "reference_verdicts")
                return table_path(folder, stage, table)
    return None


def _analysed_reference(root: Path) -> bool:
    """Whether the run's analysis read the reference verdicts (as its manifests recorded the config)."""
    try:
        sections = {
            stage: read_manifest(root / stage).config_sections[stage] for stage in ("judge", "analyze")
        }
    except (OSError, ValueError, KeyError, TypeError):
        return False  # no analysis yet (or not ours): the judge's table
    grader = str(sections["judge"].get("grader"))
    beside = grader in grader_names() and grader_for(grader).reference_beside
    kept = table_path(root / "judge", "judge", "reference_verdicts").is_dir()
    return sections["analyze"].get("verdicts") == "reference" and beside and kept


def _table_files(folder: Path) -> list[Path]:
    files = sorted(folder.rglob("*.parquet")) or sorted(folder.rglob("*.csv"))
    if not files:
        raise ResultsInputError(
            f"{folder}: holds no .parquet files (nor .csv files), is not a run directory (no judge/verdicts "
            f"or generate/responses) and not the study's released layout ({LAYOUT})."
        )
    return files


def _concat(files: list[Path], folder: Path) -> pd.DataFrame:
    frames = [_read_table(f) for f in files]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if frame.empty:
        raise ResultsInputError(f"{folder}: its {len(files)} table file(s) hold no rows.")
    return frame


def _read_table(file: Path) -> pd.DataFrame:
    if file.suffix.lower() not in TABLE_SUFFIXES:
        got = file.suffix or "no suffix"
        raise ResultsInputError(f"{file}: expected a .csv or .parquet file, got {got}.")
    try:
        if file.suffix.lower() == ".csv":
            frame = pd.read_csv(file, dtype={c: str for c in _TEXT_COLUMNS})
        else:
            frame = pd.read_parquet(file)
    except Exception as e:  # pandas / pyarrow raise many types; all mean "not a readable table"
        raise ResultsInputError(f"{file}: cannot be read as a table: {e}") from None
    for col in _TEXT_FILLED:  # an empty response is "", not a missing value
        if col in frame.columns:
            frame[col] = frame[col].fillna("")
    return canonical_values(rename_columns(frame))


def _released(root: Path, files: list[Path] | None, source: str) -> Part:
    try:
        frame = read_released(root, files)
    except ReleasedLayoutError as e:
        raise ResultsInputError(str(e)) from None
    named = files if files is not None else released_files(root)
    return Part(source, "released layout", list(named), frame)
