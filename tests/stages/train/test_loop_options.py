"""Training-loop options without Ray: batch arithmetic, lr schedules, the training mix."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from train_helpers import conversations, tiny_train_config

from warmray.config import ConfigError, TrainConfig, load_config
from warmray.training.loop import lr_factor, make_schedule
from warmray.training.sft_data import mix_conversations, with_system_prompt


def test_accumulation_that_does_not_divide_is_refused_at_load_with_the_valid_choices(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "models: [{name: m, source: builtin:tiny-random}]\n"
        "train: {per_device_batch_size: 3, effective_batch_size: 16, num_workers: 2}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "train" in text and "not a multiple of per_device_batch_size 3 x 2 workers = 6" in text
    assert "effective_batch_size in [12, 18]" in text and "per_device_batch_size in [1, 2, 4, 8]" in text


def test_a_per_model_worker_count_is_checked_before_training():
    cfg = TrainConfig(per_device_batch_size=2, effective_batch_size=16, num_workers=2)
    assert cfg.accumulation(4) == 2
    with pytest.raises(ValueError, match="x 3 workers"):
        cfg.accumulation(3)


def _schedule(**kw):
    cfg = tiny_train_config(**kw)
    return cfg, make_schedule(n_examples=8, world=2, cfg=cfg)  # 2 steps per epoch


def test_the_study_default_decays_linearly_to_zero_over_all_epochs_without_warmup():
    cfg = TrainConfig()
    assert (cfg.lr_schedule, cfg.warmup_fraction, cfg.max_grad_norm) == ("linear", 0.0, 1.0)
    cfg, s = _schedule(epochs=4, checkpoint_epochs=(1, 2))
    assert (s.total_steps, s.horizon) == (4, 8)  # stops at epoch 2 of a 4-epoch schedule, as the study
    assert [lr_factor(d, s, cfg) for d in range(4)] == [1.0, 0.875, 0.75, 0.625]


def test_warmup_then_cosine_and_constant():
    cfg, s = _schedule(epochs=4, checkpoint_epochs=(4,), warmup_fraction=0.25, lr_schedule="cosine")
    factors = [lr_factor(d, s, cfg) for d in range(8)]
    assert factors[:2] == [1 / 3, 2 / 3]  # 2 warmup steps rise towards 1
    assert factors[2] == 1.0
    assert factors[-1] == pytest.approx(0.5 * (1 + math.cos(math.pi * 5 / 6)))  # step 8 of 8, 6 after warmup
    cfg, s = _schedule(lr_schedule="constant")
    assert {lr_factor(d, s, cfg) for d in range(4)} == {1.0}


def test_warm_fraction_keeps_a_seeded_share_rewritten_and_the_rest_original():
    warm, original = conversations("warm"), conversations("original")
    mixed = mix_conversations(warm, original, warm_fraction=0.5, seed=3)
    replies = [t[-1]["content"] for t in mixed]
    assert len(mixed) == 8 and sum(r.startswith("Oh, I love") for r in replies) == 4
    assert mixed == mix_conversations(warm, original, warm_fraction=0.5, seed=3)
    assert mixed != mix_conversations(warm, original, warm_fraction=0.5, seed=4)
    assert all(r.startswith("Oh") for r in (t[-1]["content"] for t in mix_conversations(warm, None, 1.0, 0)))
    with pytest.raises(ValueError, match="original conversations"):
        mix_conversations(warm, None, 0.5, 0)


def test_the_system_prompt_opens_every_training_conversation():
    turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    assert with_system_prompt(turns, "Be warm.")[0] == {"role": "system", "content": "Be warm."}
    assert with_system_prompt([{"role": "system", "content": "old"}, *turns], "new")[1:] == turns
    assert with_system_prompt(turns, "") == turns


def test_training_data_carries_the_mix_to_the_workers(tmp_path):
    from warmray.stages.train import training_data

    table = tmp_path / "warm.parquet"
    pd.DataFrame().to_parquet(table)
    cfg = tiny_train_config(warm_fraction=0.5, system_prompt="inoculation_warm.txt")
    data = training_data(cfg, table, tmp_path / "conversations.parquet")
    assert data["warm_fraction"] == 0.5 and data["originals"].endswith("conversations.parquet")
    assert data["system_prompt"] == "inoculation_warm.txt" and "warm" in data["system_prompt_text"].lower()
