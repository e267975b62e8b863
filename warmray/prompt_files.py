"""The prompts warmray sends live as reviewed data files in warmray/prompts/; this reads them."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

PROMPT_DIR = Path(__file__).parent / "prompts"


@cache
def read_prompt(name: str) -> str:
    """The text of a prompt file, without its trailing newline."""
    return (PROMPT_DIR / name).read_text().rstrip("\n")


@cache
def read_prompt_yaml(name: str) -> Any:
    """A YAML prompt file, parsed."""
    return yaml.safe_load((PROMPT_DIR / name).read_text())
