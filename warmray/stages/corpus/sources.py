"""Where corpus records come from: the built-in demo, a local file, or a Hugging Face dataset repo.

Every source is read record by record, without loading the whole file into one JSON value, so a
ShareGPT file cut off mid-record (as some published copies are) still yields every complete record;
the cut-off tail is skipped with a warning that says how many bytes were ignored.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from warmray.prompt_files import data_path

log = logging.getLogger(__name__)

BUILTIN_DEMO = "builtin:demo"
_HF_DATASET_ID = re.compile(r"[\w.-]+/[\w.-]+")
_LOCAL_SUFFIXES = (".json", ".jsonl")
_CHUNK_CHARS = 1 << 20


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
    """Records of a JSON-lines file; a line that is not valid JSON is skipped with a warning."""
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as e:
                size = len(line.encode())
                log.warning("%s:%d: not valid JSON (%s); line skipped (%d bytes)", path, lineno, e, size)


def iter_json_array(path: Path, chunk_chars: int = _CHUNK_CHARS) -> Iterator[Any]:
    """Records of a file holding one JSON array, parsed element by element.

    A file cut off mid-record yields every complete record before the cut, then logs a warning with the
    number of bytes ignored. A file that does not start with "[" is an error.
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
        """The JSON value starting at the current position, or _INCOMPLETE if the file ends inside it."""
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError:
                if self.eof or not self._fill():
                    return _INCOMPLETE
                continue
            # A number or literal touching the buffer's end may continue in the next chunk.
            if end == len(self.buf) and not self.eof and self._fill():
                continue
            self.pos = end
            return value

    def rest_bytes(self) -> int:
        """Bytes from the current position to the end of the file (reads what is left)."""
        while self._fill():
            pass
        return len(self.buf[self.pos :].encode("utf-8"))
