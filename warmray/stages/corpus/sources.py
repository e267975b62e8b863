"""Where corpus records come from: the built-in demo, a local file, or a Hugging Face dataset repo.

Every source is read record by record, without loading the whole file into one JSON value, so a
ShareGPT file cut off mid-record (as some published copies are) still yields every complete record;
the cut-off tail is skipped with a warning that says how many bytes were ignored. A record that is not
valid JSON (a JSON-lines line, or an element of a JSON array whose brackets still close) is yielded as a
`BadRecord` naming the file, the record's index and the parser's reason, and reading goes on: the
corpus stage sets it aside as a reject, so one bad record never costs the records after it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from warmray.prompt_files import data_path

log = logging.getLogger(__name__)

BUILTIN_DEMO = "builtin:demo"
_HF_DATASET_ID = re.compile(r"[\w.-]+/[\w.-]+")
_LOCAL_SUFFIXES = (".json", ".jsonl")
_CHUNK_CHARS = 1 << 20


@dataclass(frozen=True)
class BadRecord:
    """A record of a source file that is not valid JSON: where it is and why it cannot be read."""

    path: str
    index: int  # the record's position among the file's records (a JSON-lines file: its line number)
    reason: str

    def detail(self) -> str:
        """One line for the reject: file, position and the parser's message."""
        return f"{self.path}: record {self.index}: not valid JSON ({self.reason})"


def demo_path() -> Path:
    """The built-in demo corpus, shipped inside the package."""
    return data_path("demo_conversations.jsonl")


def resolve_source(source: str, source_file: str) -> Path:
    """The local file behind a `corpus.source` value, downloading it first when it names a Hub dataset.

    Args:
        source: "builtin:demo", a local .json / .jsonl path, or a Hugging Face dataset id (org/name).
        source_file: the file to fetch inside the dataset repo when `source` is a dataset id.
    """
    if source == BUILTIN_DEMO:
        return demo_path()
    if source.startswith("builtin:"):
        raise ValueError(f"unknown built-in corpus {source!r}; the only one is {BUILTIN_DEMO!r}.")
    path = Path(source).expanduser()
    if path.is_file():
        return path
    if path.suffix in _LOCAL_SUFFIXES or not _HF_DATASET_ID.fullmatch(source):
        raise FileNotFoundError(f"corpus source {source!r}: no such file, and not a Hugging Face dataset id.")
    return _download(source, source_file)


def _download(repo_id: str, filename: str) -> Path:
    """Fetch one file of a Hub dataset repo into the local Hugging Face cache (needs network)."""
    from huggingface_hub import hf_hub_download

    log.info("downloading %s from the Hugging Face dataset %s", filename, repo_id)
    return Path(hf_hub_download(repo_id=repo_id, filename=filename, repo_type="dataset"))


def iter_records(path: Path) -> Iterator[Any]:
    """Every complete record of a JSON-array (.json) or JSON-lines (.jsonl) file, in file order."""
    if path.suffix == ".jsonl":
        return iter_jsonl(path)
    return iter_json_array(path)


def iter_jsonl(path: Path) -> Iterator[Any]:
    """Records of a JSON-lines file; a line that is not valid JSON is yielded as a `BadRecord`."""
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as e:
                log.warning("%s:%d: not valid JSON (%s); line set aside", path, lineno, e)
                yield BadRecord(str(path), lineno, str(e))


def iter_json_array(path: Path, chunk_chars: int = _CHUNK_CHARS) -> Iterator[Any]:
    """Records of a file holding one JSON array, parsed element by element.

    An element that is not valid JSON but ends (its brackets close before the next top-level comma) is
    yielded as a `BadRecord` and reading goes on after it. A file cut off mid-record yields every
    complete record before the cut, then logs a warning with the number of bytes ignored. A file that
    does not start with "[" is an error.
    """
    with path.open(encoding="utf-8") as f:
        reader = _ChunkReader(f, chunk_chars)
        if reader.next_char() != "[":
            raise ValueError(f"{path}: not a JSON array (a ShareGPT file is a list of conversations).")
        reader.pos += 1
        count = 0
        while True:
            # raw_decode does not skip whitespace itself.
            if reader.next_char() == "]" and count == 0:
                return
            record = reader.decode()
            if record is _INCOMPLETE:
                break
            if isinstance(record, _Malformed):
                log.warning("%s: record %d is not valid JSON (%s); set aside", path, count, record.reason)
                record = BadRecord(str(path), count, record.reason)
            count += 1
            yield record
            sep = reader.next_char()
            if sep == "]":
                return
            if sep != ",":
                break
            reader.pos += 1
        ignored = reader.rest_bytes()
        log.warning(
            "%s: the JSON array is cut off (or malformed) after %d complete records; "
            "kept those, ignored the last %d bytes.",
            path,
            count,
            ignored,
        )


@dataclass(frozen=True)
class _Malformed:
    reason: str


_INCOMPLETE = object()


class _ChunkReader:
    """A text buffer over a file, refilled on demand, for record-by-record JSON decoding."""

    def __init__(self, f: IO[str], chunk_chars: int) -> None:
        self.f = f
        self.chunk_chars = chunk_chars
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.decoder = json.JSONDecoder()

    def _fill(self) -> bool:
        """Append more of the file; False at end of file."""
        # Read at least as much as is buffered, so a record larger than a chunk costs linear time.
        more = self.f.read(max(self.chunk_chars, len(self.buf) - self.pos))
        if not more:
            self.eof = True
            return False
        self.buf = self.buf[self.pos :] + more
        self.pos = 0
        return True

    def next_char(self) -> str:
        """The next non-whitespace character (not consumed), or "" at end of file."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos].isspace():
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                return ""

    def decode(self) -> Any:
        """The JSON value at the current position, else _Malformed or _INCOMPLETE.

        _Malformed: the value is invalid but its element ends in the file (the position moves past it);
        _INCOMPLETE: the file ends inside it.
        """
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as e:
                start, stop = self.pos, self._element_end()
                if stop is not None:
                    self.pos = stop
                    return _Malformed(f"{e.msg} at character {e.pos - start} of the record")
                if self.eof or not self._fill():
                    return _INCOMPLETE
                continue
            # A number or literal touching the buffer's end may continue in the next chunk.
            if end == len(self.buf) and not self.eof and self._fill():
                continue
            self.pos = end
            return value

    def _element_end(self) -> int | None:
        """Where the array element at the current position ends: the top-level "," or "]" after it.

        Brackets are counted outside strings (escapes honoured). None when the buffer ends first.
        """
        depth, in_string, escaped = 0, False, False
        for i in range(self.pos, len(self.buf)):
            ch = self.buf[i]
            if in_string:
                if escaped:
                    escaped = False
                elif ch == "\\":
                    escaped = True
                elif ch == '"':
                    in_string = False
            elif ch == '"':
                in_string = True
            elif ch in "[{":
                depth += 1
            elif ch in "]}":
                if depth == 0:
                    return i  # the array's own closing bracket
                depth -= 1
            elif ch == "," and depth == 0:
                return i
        return None

    def rest_bytes(self) -> int:
        """Bytes from the current position to the end of the file (reads what is left)."""
        while self._fill():
            pass
        return len(self.buf[self.pos :].encode("utf-8"))
