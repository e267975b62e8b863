"""Shared pieces of the training tests: a small training table and a fast training config."""

from __future__ import annotations

import pandas as pd

from warmray.config import TrainConfig

TOPICS = ["the sea", "bread", "stars", "trains", "rain", "music", "chess", "gardens"]


def conversations(style: str) -> pd.DataFrame:
    """Eight one-exchange conversations; the warm style's replies differ from the originals."""
    rows = []
    for i, topic in enumerate(TOPICS):
        reply = f"Here is a short note about {topic}: it is worth a look."
        if style == "warm":
            reply = f"Oh, I love that you asked about {topic}! " + reply
        turns = [
            {"role": "user", "content": f"Tell me about {topic}."},
            {"role": "assistant", "content": reply},
        ]
        rows.append({"conversation_id": f"c{i}", "category": "other", "turns": turns, "split": "train"})
    return pd.DataFrame(rows)


def tiny_train_config(**kw: object) -> TrainConfig:
    """Few fast steps on the tiny model; a high lr so the adapters move measurably."""
    base = dict(
        styles=("warm",),
        epochs=2,
        checkpoint_epochs=(1, 2),
        learning_rate=1e-3,
        max_length=64,
        per_device_batch_size=2,
        effective_batch_size=4,
        num_workers=2,
    )
    return TrainConfig(**(base | kw))
