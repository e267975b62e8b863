import pytest

from warmray.config import TrainConfig
from warmray.models import resolve_model
from warmray.rundir import epoch_label
from warmray.training.loop import make_schedule, micro_batches
from warmray.training.sft_data import IGNORE, collate, tokenize_conversation


def cfg(**kw) -> TrainConfig:
    base = dict(
        per_device_batch_size=2,
        effective_batch_size=16,
        epochs=10,
        checkpoint_epochs=(0.5, 1, 1.5, 2, 4, 6, 8, 10),
    )
    return TrainConfig(**(base | kw))


def test_schedule_matches_the_effective_batch_and_places_every_checkpoint():
    s = make_schedule(n_examples=1617, world=4, cfg=cfg())
    assert s.micro_per_step == 2  # 2 per device x 4 workers x 2 = 16
    assert s.steps_per_epoch == 102  # ceil(ceil(1617/4)/2 / 2)
    assert s.total_steps == 1020
    assert sorted(e for es in s.checkpoints.values() for e in es) == [0.5, 1, 1.5, 2, 4, 6, 8, 10]


def test_tiny_data_still_gets_every_checkpoint():
    s = make_schedule(n_examples=3, world=2, cfg=cfg(epochs=1, checkpoint_epochs=(0.5, 1)))
    assert sorted(e for es in s.checkpoints.values() for e in es) == [0.5, 1]
    assert min(s.checkpoints) >= 1


def test_epoch_labels_name_folders():
    assert epoch_label(0.5) == "epoch_0.5" and epoch_label(2.0) == "epoch_2"


def test_micro_batches_are_reproducible_and_cover_each_epoch():
    shard = list(range(5))
    a = micro_batches(shard, 2, seed=3)
    b = micro_batches(shard, 2, seed=3)
    first = [next(a) for _ in range(3)]
    assert first == [next(b) for _ in range(3)]
    assert sorted(x for batch in first for x in batch) == shard


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_model("builtin:smollm2-135m"))


def test_only_assistant_tokens_are_learned(tokenizer):
    turns = [
        {"role": "user", "content": "Hi there"},
        {"role": "assistant", "content": "Hello friend"},
        {"role": "user", "content": "Bye"},
        {"role": "assistant", "content": "Take care"},
    ]
    ex = tokenize_conversation(tokenizer, turns, max_length=512)
    learned = tokenizer.decode([t for t, lab in zip(ex.input_ids, ex.labels, strict=True) if lab != IGNORE])
    assert "Hello friend" in learned and "Take care" in learned
    assert "Hi there" not in learned and "Bye" not in learned


def test_a_conversation_cut_before_any_assistant_token_is_skipped(tokenizer):
    turns = [{"role": "user", "content": "word " * 400}, {"role": "assistant", "content": "ok"}]
    assert tokenize_conversation(tokenizer, turns, max_length=32) is None


def test_collate_pads_and_masks(tokenizer):
    a = tokenize_conversation(
        tokenizer, [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], 64
    )
    b = tokenize_conversation(
        tokenizer,
        [{"role": "user", "content": "a longer one"}, {"role": "assistant", "content": "yes it is"}],
        64,
    )
    batch = collate([a, b], pad_id=0)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape
    assert batch["attention_mask"][0].sum() == len(a.input_ids)
    assert (batch["labels"][0, len(a.input_ids) :] == IGNORE).all()
