"""Checks every rewritten turn must pass before it can train a model.

A rewrite is refused when it is empty, changes a fenced code block, is much shorter or longer than the
original, or still carries the rewriting instructions. Each check returns a reason code or None.
"""

from __future__ import annotations

import re

FENCE = re.compile(r"```.*?```", re.DOTALL)
# A first line that only announces the rewrite ("Here is a warmer version:") is cut, not refused:
# small rewriters add it often and it carries no content.
_PREAMBLE = re.compile(
    r"^\s*(sure[,!.]?\s*)?(here('s| is)|below is)[^\n]{0,80}(rewrit|version|reply)[^\n]*:\s*\n", re.I
)
_LEFTOVER = re.compile(
    r"<<<|>>>|REPLY>>>|<<<REPLY|\brewrit(e|ten|ing)\b|original reply|the conversation so far", re.I
)


def clean_rewrite(text: str) -> str:
    """Strip whitespace and an announcing first line."""
    return _PREAMBLE.sub("", text.strip(), count=1).strip()


def code_blocks(text: str) -> list[str]:
    """The fenced code blocks of a text, in order."""
    return FENCE.findall(text)


def check_rewrite(original: str, rewrite: str, min_ratio: float, max_ratio: float) -> str | None:
    """The reason a rewrite is refused, or None when it passes."""
    if not rewrite.strip():
        return "empty"
    if code_blocks(rewrite) != code_blocks(original):
        return "code_changed"
    ratio = len(rewrite) / max(1, len(original))
    if ratio < min_ratio:
        return "too_short"
    if ratio > max_ratio:
        return "too_long"
    if _LEFTOVER.search(rewrite) and not _LEFTOVER.search(original):
        return "instruction_leftover"
    return None
