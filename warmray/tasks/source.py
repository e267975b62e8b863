"""Where a benchmark's rows come from, and the one interface every benchmark loader fills in.

Each loader declares a `SourceSpec` (its Hub id, config and split, its file inside a data folder laid
out like the published sets, a reader for that file, a mapping from a Hub row to the file's row dict,
and the columns a row must have) and a `Loader` (the row parser and two optional passes over all items:
`finish`, offline and seeded, and `propose`, which asks an LLM for belief answers). Hub rows are mapped
into the same dicts as file rows, so one parser serves both. A row the parser cannot use raises
`BadRow`; it is counted into the rejects with the file named. A file without a required column, or one
from which no row survives, stops the stage (`BenchmarkFileError`).
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from warmray.prompt_files import data_path
from warmray.schema import EvalItem, Reject
from warmray.stage import StageError
from warmray.tasks.common import BadRow

log = logging.getLogger(__name__)

Row = dict[str, Any] | BadRow  # a reader yields BadRow for a line it cannot decode
_FILE_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet")
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of a byte that is not UTF-8
BUILTIN_DEMO = "builtin:demo"  # a task's small built-in items (offline runs: the demo, CI)
# prompts -> replies, in order: how a loader's `propose` reaches an LLM without knowing the engine
Ask = Callable[[list[str]], list[str]]


class BenchmarkFileError(StageError):
    """A benchmark source that cannot be used at all; the message names the file and what it lacks."""


def _same_row(row: dict[str, Any]) -> dict[str, Any]:
    return row


@dataclass(frozen=True)
class SourceSpec:
    """How to read one benchmark from the Hub or from a local copy."""

    hf_id: str | None
    hf_config: str | None
    hf_split: str
    local_path: str  # relative to a data folder laid out like the published sets
    read_local: Callable[[Path], Iterator[Row]]
    from_hf: Callable[[dict[str, Any]], dict[str, Any]] = _same_row
    builtin: str | None = None  # a file in warmray/data read when no source is named (no Hub, no data_dir)
    demo: str | None = None  # a small file in warmray/data, our own items, read for the source `builtin:demo`
    columns: tuple[str, ...] = ()  # columns every row needs (in the local layout); checked on the first


@dataclass(frozen=True)
class Loader:
    """A benchmark: its source, its row parser, and optional passes over all parsed items.

    `finish(items, seed)` sees every item of the source before sampling, so what it adds (the belief
    answers drawn offline) does not depend on the sample size. `propose(items, ask, label)` replaces
    belief answers with ones an LLM proposed where they pass the loader's checks, recording `label`
    as their source.
    """

    task: str
    spec: SourceSpec
    parse: Callable[[dict[str, Any], int], EvalItem]
    finish: Callable[[list[EvalItem], int], list[EvalItem]] | None = None
    propose: Callable[[list[EvalItem], Ask, str], list[EvalItem]] | None = None


def resolve_source(spec: SourceSpec, source: str | None, data_dir: str | Path | None) -> Path | str:
    """The local path to read, or the Hub id to load.

    `builtin:demo` names the task's built-in items (they win over `data_dir`, as the demo task's do);
    `data_dir` wins over any other `source`; a `source` that exists on disk is local; one that looks
    like a path but does not exist is an error (not a Hub id to try); anything else is a Hub id.
    """
    if spec.builtin is not None and source is None:
        return data_path(spec.builtin)
    if source == BUILTIN_DEMO:
        if spec.demo is None:
            raise ValueError(f"{spec.local_path}: this task has no built-in demo items")
        return data_path(spec.demo)
    if data_dir is not None:
        path = Path(data_dir) / spec.local_path
        if not path.exists():
            raise FileNotFoundError(f"{path} not found: a data folder must hold {spec.local_path}")
        return path
    if source is None and spec.hf_id is not None:
        return spec.hf_id
    if source is None:
        raise ValueError(f"{spec.local_path}: no source named and no Hub id to fall back on")
    path = Path(source).expanduser()
    if path.is_dir() and Path(spec.local_path).suffix:
        path = path / Path(spec.local_path).name  # a dataset's folder, e.g. data/medqa
        if not path.exists():
            raise FileNotFoundError(f"{source!r} is a folder without {path.name}")
    if path.exists():
        return path
    if source.startswith((".", "/", "~")) or source.endswith(_FILE_SUFFIXES):
        raise FileNotFoundError(f"{source!r}: no such local file or folder")
    return source


def read_rows(spec: SourceSpec, where: Path | str) -> Iterator[Row]:
    """Rows of a benchmark from a local path or a Hub id, each a dict in the local file's layout."""
    if isinstance(where, Path):
        log.info("reading %s", where)
        yield from spec.read_local(where)
        return
    import datasets  # heavy; only runs that load from the Hub need it

    log.info("loading %s (%s, %s) from the Hugging Face hub", where, spec.hf_config, spec.hf_split)
    try:
        rows = datasets.load_dataset(where, spec.hf_config, split=spec.hf_split)
    except (ConnectionError, OSError) as e:  # no network, no cached copy, a gated or unknown id
        raise BenchmarkFileError(
            f"cannot load the Hugging Face dataset {where!r} ({e}). Offline, point the task at a local copy "
            "in the published format (the task's `source`, or the stage's `data_dir`)."
        ) from None
    for row in rows:
        yield spec.from_hf(dict(row))


def read_jsonl(path: Path) -> Iterator[Row]:
    """One dict per non-blank line of a JSON Lines file; a line that is not UTF-8 is a BadRow."""
    with path.open("rb") as f:
        for n, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                yield BadRow(f"line {n} is not UTF-8 text (byte 0x{raw[e.start]:02x}, column {e.start + 1})")
                continue
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                yield BadRow(f"line {n} is not valid JSON: {e.msg}")
                continue
            yield row if isinstance(row, dict) else BadRow(f"line {n} is not a JSON object")


def read_csv(path: Path, fieldnames: list[str] | None = None) -> Iterator[Row]:
    """One dict per record of a CSV file (a real CSV reader: cells may hold newlines).

    A record with bytes that are not UTF-8 is a BadRow naming its line (read with surrogate escapes, so
    one bad byte costs its record, not the file).
    """
    with path.open(encoding="utf-8", errors="surrogateescape", newline="") as f:
        reader = csv.DictReader(f, fieldnames=fieldnames)
        for row in reader:
            if any(_NOT_UTF8.search(v) for v in row.values() if isinstance(v, str)):
                yield BadRow(f"the record ending on line {reader.line_num} is not UTF-8 text")
                continue
            yield row


def check_columns(loader: Loader, row: dict[str, Any], where: Path | str) -> None:
    """Stop with one paragraph when a source's rows lack a column the loader needs."""
    missing = [c for c in loader.spec.columns if c not in row]
    if missing:
        raise BenchmarkFileError(
            f"{loader.task}: {where} lacks the column(s) {missing} that every {loader.task} row needs "
            f"(required: {list(loader.spec.columns)}). Columns found: {sorted(row)}. Point the task at "
            "a file in the published format, or fix the file's header."
        )


def parse_rows(
    loader: Loader, rows: Iterable[Row], where: Path | str, rejects: list[Reject] | None = None
) -> list[EvalItem]:
    """Parse every row into an item; bad rows and repeated ids are logged, counted and skipped.

    Raises:
        BenchmarkFileError: the rows lack a required column, or no row could be used.
    """
    items: list[EvalItem] = []
    seen: set[str] = set()
    bad = 0
    checked = False
    for index, row in enumerate(rows):
        try:
            if isinstance(row, BadRow):
                raise row
            if not checked:
                check_columns(loader, row, where)
                checked = True
            item = loader.parse(row, index)
            if item.item_id in seen:
                raise BadRow(f"repeats item id {item.item_id}")
        except BadRow as e:
            bad += 1
            log.warning("%s: %s row %d skipped: %s", loader.task, where, index, e)
            if rejects is not None:
                rejects.append(Reject("load", f"{loader.task}:row{index}", "bad row", f"{where}: {e}"))
            continue
        seen.add(item.item_id)
        items.append(item)
    if not items:
        raise BenchmarkFileError(
            f"{loader.task}: no usable row in {where} ({bad} row(s) read, all skipped; the rejects name "
            "each reason). Check that the file is the published format of this benchmark."
        )
    if bad:
        log.warning("%s: %d bad row(s) of %s skipped, %d items kept", loader.task, bad, where, len(items))
    return items
