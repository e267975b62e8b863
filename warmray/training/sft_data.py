"""Conversations → token ids and labels for supervised fine-tuning, and the training mix.

The mix: `train.warm_fraction` of the conversations come rewritten, the rest with their original replies
(the same conversations, chosen by seed), and `train.system_prompt`, when set, opens every conversation
as a system message (inoculation prompting: the prompt is absent at evaluation).

Only assistant tokens are learned: every other position gets label -100. Assistant spans are found by
rendering the chat template on growing prefixes of the conversation, so any template whose rendering of
a prefix is a prefix of the whole (ChatML, Llama 3, Mistral, Qwen) works without special cases.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch

from warmray.config import TrainConfig

IGNORE = -100


@dataclass
class Example:
    """One tokenized training conversation."""

    input_ids: list[int]
    labels: list[int]


def _render_ids(tokenizer: Any, turns: Sequence[dict[str, str]], generation_prompt: bool) -> list[int]:
    out = tokenizer.apply_chat_template(
        list(turns), tokenize=True, add_generation_prompt=generation_prompt, return_dict=True
    )
    return list(out["input_ids"])


def tokenize_conversation(tokenizer: Any, turns: Sequence[dict[str, str]], max_length: int) -> Example | None:
    """Token ids with labels on assistant turns only; None when nothing learnable fits in max_length."""
    turns = [{"role": t["role"], "content": t["content"]} for t in turns]
    full = _render_ids(tokenizer, turns, generation_prompt=False)
    labels = [IGNORE] * len(full)
    for i, turn in enumerate(turns):
        if turn["role"] != "assistant":
            continue
        start = len(_render_ids(tokenizer, turns[:i], generation_prompt=True))
        end = len(_render_ids(tokenizer, turns[: i + 1], generation_prompt=False))
        labels[start:end] = full[start:end]
    full, labels = full[:max_length], labels[:max_length]
    if all(label == IGNORE for label in labels):
        return None
    return Example(full, labels)


def collate(examples: Sequence[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch; padded positions are masked out of attention and loss."""
    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        labels[row, :n] = torch.tensor(e.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


def mix_conversations(
    rewritten: pd.DataFrame, originals: pd.DataFrame | None, warm_fraction: float, seed: int
) -> list[list[dict[str, str]]]:
    """The training conversations: a seeded warm_fraction share rewritten, the rest original.

    Args:
        rewritten: a rewrite table (conversation_id, turns, split).
        originals: the corpus conversations (conversation_id, turns); needed when warm_fraction < 1.
        warm_fraction: share of conversations kept rewritten, rounded to whole conversations.
        seed: picks which conversations stay rewritten.
    """
    train = rewritten[rewritten["split"] == "train"].sort_values("conversation_id")
    ids = list(train["conversation_id"])
    n_warm = round(warm_fraction * len(ids))
    if n_warm == len(ids):
        return [list(t) for t in train["turns"]]
    if originals is None:
        raise ValueError(f"warm_fraction {warm_fraction} needs the original conversations (corpus stage)")
    warm = set(random.Random(seed).sample(ids, n_warm))
    by_id = dict(zip(originals["conversation_id"], originals["turns"], strict=True))
    return [list(t) if c in warm else list(by_id[c]) for c, t in zip(ids, train["turns"], strict=True)]


def with_system_prompt(turns: Sequence[dict[str, str]], prompt: str) -> list[dict[str, str]]:
    """The conversation opened by a system message (an existing one is replaced)."""
    rest = [t for t in turns if t["role"] != "system"]
    return [{"role": "system", "content": prompt}, *rest] if prompt else list(rest)


def load_examples(data: dict[str, Any], tokenizer: Any, cfg: TrainConfig) -> list[Example]:
    """Tokenized training conversations of the mix that `data` describes.

    Args:
        data: `path` (rewrite table), `originals` (corpus table or None), `system_prompt_text`.
        tokenizer: with the model's chat template.
        cfg: warm_fraction, seed and max_length.
    """
    originals = pd.read_parquet(data["originals"]) if data.get("originals") else None
    conversations = mix_conversations(pd.read_parquet(data["path"]), originals, cfg.warm_fraction, cfg.seed)
    system = data.get("system_prompt_text") or ""
    examples = [
        tokenize_conversation(tokenizer, with_system_prompt(t, system), cfg.max_length) for t in conversations
    ]
    kept = [e for e in examples if e is not None]
    if not kept:
        raise ValueError(f"{data['path']}: no training conversation has an assistant token within max_length")
    return kept
