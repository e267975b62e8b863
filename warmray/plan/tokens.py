"""Token counts of the training corpus: the real tokenizer when it is local, else characters / 4.

The real count needs two things on this machine: the corpus stage's output in the run directory, and the
model's tokenizer.json (a local model folder, warmray's builtin cache, or the Hugging Face cache). It
uses the `tokenizers` library directly, so no model weights are read and torch is not imported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from warmray.models import BUILTIN_PREFIX, cache_root


@dataclass(frozen=True)
class CorpusTokens:
    """Mean tokens of one training conversation (before max_length) and of one assistant turn."""

    per_conversation: float
    per_assistant_turn: float
    assistant_turns_per_conversation: float
    source: str


def estimate(
    chars_user: float, chars_assistant: float, turns: float, chars_per_token: float, template: float
) -> CorpusTokens:
    """The characters-per-token estimate of a ShareGPT-like conversation."""
    assistant = chars_assistant / chars_per_token + template
    user = chars_user / chars_per_token + template
    return CorpusTokens(
        turns * (assistant + user),
        assistant,
        turns,
        f"estimate: {chars_per_token:g} characters per token (assumption chars_per_token)",
    )


def local_tokenizer(source: str) -> Path | None:
    """tokenizer.json of a model source if it is on this machine (never downloads)."""
    candidates = []
    if source.startswith(BUILTIN_PREFIX):
        candidates += sorted(cache_root().glob(source.removeprefix(BUILTIN_PREFIX) + "-v*/tokenizer.json"))
    else:
        candidates.append(Path(source).expanduser() / "tokenizer.json")
        home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
        snapshots = home / "hub" / ("models--" + source.replace("/", "--")) / "snapshots"
        candidates += sorted(snapshots.glob("*/tokenizer.json")) if snapshots.is_dir() else []
    return next((c for c in candidates if c.is_file()), None)


def measured(run_dir: Path, source: str, template: float) -> CorpusTokens | None:
    """Real token counts of RUN_DIR/corpus/conversations.parquet (train split), or None if unavailable."""
    table = run_dir / "corpus" / "conversations.parquet"
    tokenizer_file = local_tokenizer(source)
    if not table.is_file() or tokenizer_file is None:
        return None
    import pyarrow.parquet as pq
    from tokenizers import Tokenizer

    frame = pq.read_table(table, columns=["turns", "split"]).to_pylist()
    conversations = [row["turns"] for row in frame if row["split"] == "train"]
    if not conversations:
        return None
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    turns = [t for c in conversations for t in c]
    lengths = [len(e.ids) + template for e in tokenizer.encode_batch([t["content"] for t in turns])]
    assistant = [n for n, t in zip(lengths, turns, strict=True) if t["role"] == "assistant"]
    return CorpusTokens(
        sum(lengths) / len(conversations),
        sum(assistant) / max(1, len(assistant)),
        len(assistant) / len(conversations),
        f"tokenizer {tokenizer_file} on {table} ({len(conversations)} training conversations)",
    )
