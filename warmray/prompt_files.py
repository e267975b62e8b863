"""Files that shape results: prompt files (warmray/prompts/) and built-in data (warmray/data/).

Every read goes through here, and each read is recorded while a stage runs (`track_reads`): the stage
runner hashes the files a stage read into its identity, so editing a prompt file reruns exactly the stages
that read it (warmray.stage). Reads happen in the driver process, where the recording is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

PACKAGE_DIR = Path(__file__).parent
PROMPT_DIR = PACKAGE_DIR / "prompts"
DATA_DIR = PACKAGE_DIR / "data"

_reads: list[set[Path]] = []  # one set per stage being run in this process (innermost last)


@contextmanager
def track_reads() -> Iterator[set[Path]]:
    """Record every prompt or data file read inside the block; yields the set being filled."""
    reads: set[Path] = set()
    _reads.append(reads)
    try:
        yield reads
    finally:
        _reads.remove(reads)


def _record(path: Path) -> Path:
    for reads in _reads:
        reads.add(path.resolve())
    return path


def prompt_path(name: str) -> Path:
    """A prompt file's path: a name in warmray/prompts/, or a path to a user's own file."""
    own = Path(name).expanduser()
    return _record(own if own.is_absolute() or own.parent != Path(".") else PROMPT_DIR / name)


def data_path(name: str) -> Path:
    """A built-in data file in warmray/data/ (demo conversations and items, the toxicity word list)."""
    return _record(DATA_DIR / name)


def read_prompt(name: str) -> str:
    """The text of a prompt file, without its trailing newline."""
    return prompt_path(name).read_text(encoding="utf-8").rstrip("\n")


def read_prompt_yaml(name: str) -> Any:
    """A YAML prompt file, parsed."""
    return yaml.safe_load(prompt_path(name).read_text(encoding="utf-8"))
