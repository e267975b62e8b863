"""Conversations → token ids and labels for supervised fine-tuning.

Only assistant tokens are learned: every other position gets label -100. Assistant spans are found by
rendering the chat template on growing prefixes of the conversation, so any template whose rendering of
a prefix is a prefix of the whole (ChatML, Llama 3, Mistral, Qwen) works without special cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

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
