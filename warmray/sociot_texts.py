"""`warmray sociot --scorer MODEL TEXTS.jsonl`: the SocioT warmth of arbitrary texts, one JSON line each.

Runs the scorer in this process with transformers (no Ray: a file of texts is small), by the same
functions as the warmth stage, so a printed value equals the stage's for the same text and settings.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from warmray.sociot import MAX_CHARS, PROCEDURES, load_scorer, sociot


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments."""
    parser.add_argument("texts", type=Path, help='JSON Lines file, one {"text": ...} per line')
    parser.add_argument(
        "--scorer",
        default="gpt2",
        help="causal LM that scores: a Hub id (gpt2, openai-community/gpt2), a folder or a builtin name "
        "(default gpt2, the study's scorer)",
    )
    parser.add_argument(
        "--procedure",
        choices=PROCEDURES,
        default="later",
        help="later: the later published code (eval mode, one pass); earlier: the earlier one (train mode, "
        "dropout on, the mean of 100 passes)",
    )
    parser.add_argument("--max-chars", type=int, default=MAX_CHARS, help="characters of each text scored")
    parser.add_argument("--seed", type=int, default=0, help="seeds the earlier procedure's dropout")


def read_texts(path: Path) -> list[str]:
    """The `text` of every non-blank line; a clear error naming the line when one has none."""
    texts = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise ValueError(f'{path}:{number}: expected {{"text": "..."}}, got {line[:80]!r}')
        texts.append(row["text"])
    return texts


def command(args: argparse.Namespace) -> int:
    """Print one JSON line per text: text, warm, cold, sociot."""
    try:
        texts = read_texts(args.texts)
    except (OSError, ValueError) as e:
        print(f"warmray sociot: {e}", file=sys.stderr)
        return 2
    try:
        model, tokenizer = load_scorer(args.scorer)
    except ValueError as e:  # the model resolver's one-paragraph reason
        print(f"warmray sociot: --scorer: {e}", file=sys.stderr)
        return 2
    for text in texts:
        s = sociot(model, tokenizer, text, args.procedure, args.max_chars, args.seed)
        print(json.dumps({"text": text, "warm": s.warm, "cold": s.cold, "sociot": s.warmth}))
    return 0
