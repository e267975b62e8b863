from collections import Counter

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from warmray.config import CorpusConfig, ExperimentConfig
from warmray.schema import columns
from warmray.stage import StageContext
from warmray.stages.corpus import run
from warmray.stages.corpus.build import build_corpus
from warmray.stages.corpus.heldout import text_key
from warmray.stages.corpus.sampling import chat_root
from warmray.stages.corpus.sharegpt import Cleaned, clean_record
from warmray.stages.corpus.sources import iter_records
from warmray.stages.corpus.toxicity import LexiconFilter

SAMPLE = "sharegpt/ShareGPT_V3_unfiltered_cleaned_split.first3000.json"
REASONS = {
    "malformed",
    "missing_id",
    "non_text",
    "unknown_role",
    "empty",
    "no_reply",
    "not_alternating",
    "empty_turn",
    "duplicate_id",
    "toxic",
    "not_sampled",
}


def context(tmp_path, **corpus):
    config = ExperimentConfig.model_validate(
        {"models": [{"name": "m", "source": "builtin:tiny-random"}], "corpus": corpus}
    )
    return StageContext(config, tmp_path)


def read(out):
    return tuple(pd.read_parquet(out / f"{t}.parquet") for t in ("conversations", "rejects", "val_prompts"))


def check_invariants(conversations, rejects, val_prompts, n_input, max_turns):
    assert len(conversations) + len(rejects) == n_input
    assert conversations.conversation_id.is_unique
    assert set(rejects.reason) <= REASONS and (rejects.stage == "corpus").all()
    assert rejects.row_id.str.len().gt(0).all() and rejects.detail.str.len().gt(0).all()
    for turns in conversations.turns:
        assert 2 <= len(turns) <= max_turns and len(turns) % 2 == 0
        assert [t["role"] for t in turns] == ["user", "assistant"] * (len(turns) // 2)
    val = conversations[conversations.split == "val"]
    first_user = dict(zip(val.conversation_id, [t[0]["content"] for t in val.turns], strict=True))
    from_val = val_prompts[val_prompts.origin == "val"]
    assert dict(zip(from_val.conversation_id, from_val.prompt, strict=True)).items() <= first_user.items()
    # the rest come from conversations that passed every filter but were not sampled, never from training
    not_sampled = set(rejects.row_id[rejects.reason == "not_sampled"])
    assert set(val_prompts.conversation_id[val_prompts.origin == "unsampled"]) <= not_sampled
    train = conversations[conversations.split == "train"]
    assert not set(val_prompts.conversation_id) & set(train.conversation_id)
    trained_texts = {text_key(t["content"]) for turns in train.turns for t in turns if t["role"] == "user"}
    assert not set(val_prompts.prompt.map(text_key)) & trained_texts
    assert val_prompts.prompt_id.is_unique and val_prompts.prompt.map(text_key).is_unique
    # validation prompts come first
    assert list(val_prompts.origin) == sorted(val_prompts.origin, key=lambda o: o != "val")


def test_demo_corpus_stage_writes_the_three_tables(tmp_path):
    rows = run(context(tmp_path, n_conversations=30, val_fraction=0.2), tmp_path)
    conversations, rejects, val_prompts = read(tmp_path)
    # 6 validation prompts, then the 12 conversations the sampling left out (all distinct texts)
    assert rows == {"conversations": 30, "train": 24, "val": 6, "val_prompts": 18, "rejects": 12}
    assert list(conversations.columns) == columns("conversations")
    assert list(rejects.columns) == columns("rejects")
    assert list(val_prompts.columns) == ["conversation_id", "prompt_id", "prompt", "origin"]
    assert Counter(val_prompts.origin) == {"val": 6, "unsampled": 12}
    assert set(val_prompts.conversation_id[val_prompts.origin == "unsampled"]) == set(rejects.row_id)
    turns_type = pq.read_schema(tmp_path / "conversations.parquet").field("turns").type
    assert pa.types.is_list(turns_type)
    assert turns_type.value_type == pa.struct([("role", pa.string()), ("content", pa.string())])
    assert Counter(conversations.category) == {
        c: 5 for c in ["refusal", "technical", "creative", "advice", "factual", "other"]
    }
    assert set(rejects.reason) == {"not_sampled"} and (conversations.source == "builtin:demo").all()
    check_invariants(conversations, rejects, val_prompts, 42, 20)


def test_demo_at_default_sizes_samples_everything_so_only_val_prompts_are_held_out(tmp_path):
    rows = run(context(tmp_path), tmp_path)
    _, _, val_prompts = read(tmp_path)
    assert rows["conversations"] == 42 and rows["rejects"] == 0
    assert rows["val"] == round(42 * 0.1) == rows["val_prompts"] and set(val_prompts.origin) == {"val"}


def test_val_prompts_are_capped(tmp_path):
    rows = run(context(tmp_path, val_fraction=0.5, max_val_prompts=3), tmp_path)
    assert rows["val"] == 21 and rows["val_prompts"] == 3
    rows = run(context(tmp_path / "more", n_conversations=30, val_fraction=0.2, max_val_prompts=10), tmp_path)
    _, _, val_prompts = read(tmp_path)
    assert rows["val_prompts"] == 10 and Counter(val_prompts.origin) == {"val": 6, "unsampled": 4}


@pytest.fixture(scope="module")
def sharegpt_run(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    rows = run(context(out, source=str(shared_data / SAMPLE)), out)
    return rows, out


def test_sharegpt_sample_accounts_for_every_input_record(sharegpt_run):
    rows, out = sharegpt_run
    conversations, rejects, val_prompts = read(out)
    check_invariants(conversations, rejects, val_prompts, 3000, 20)
    assert rows["conversations"] == 1617 and rows["rejects"] == 3000 - 1617
    # whole chats are held out, so the validation split may pass its share by a chat's last pieces
    assert round(1617 * 0.1) <= rows["val"] <= round(1617 * 0.1) + 10
    reasons = Counter(rejects.reason)
    assert reasons["not_sampled"] > 0 and reasons["empty"] > 0 and reasons["not_alternating"] > 0


def test_sharegpt_sample_holds_out_as_many_prompts_as_it_can(sharegpt_run, shared_data):
    rows, out = sharegpt_run
    conversations, rejects, val_prompts = read(out)
    not_sampled = set(rejects.row_id[rejects.reason == "not_sampled"])
    unsampled: dict[str, str] = {}  # the first usable record of an id is the one kept
    for c in (clean_record(r, 20) for r in iter_records(shared_data / SAMPLE)):
        if isinstance(c, Cleaned) and c.conversation_id in not_sampled:
            unsampled.setdefault(c.conversation_id, c.turns[0]["content"])
    train = conversations[conversations.split == "train"]
    trained = {text_key(t["content"]) for turns in train.turns for t in turns if t["role"] == "user"}
    val_first = [t[0]["content"] for t in conversations.turns[conversations.split == "val"]]
    train_chats = {chat_root(cid) for cid in train.conversation_id}
    held_out = [p for cid, p in unsampled.items() if chat_root(cid) not in train_chats]
    available = {text_key(p) for p in [*val_first, *held_out]} - trained
    assert not {chat_root(c) for c in val_prompts.conversation_id} & train_chats
    assert rows["val_prompts"] == len(val_prompts) == min(1500, len(available))
    assert len(val_prompts) > 4 * rows["val"]  # far more than the validation split alone
    by_id = dict(zip(val_prompts.conversation_id, val_prompts.prompt, strict=True))
    assert all(by_id[cid] == p for cid, p in unsampled.items() if cid in by_id)
    # every validation prompt that is new comes first, ahead of any unsampled one
    assert Counter(val_prompts.origin)["val"] == len({text_key(p) for p in val_first} - trained)


def test_sharegpt_sample_is_balanced_as_far_as_categories_allow(sharegpt_run):
    _, out = sharegpt_run
    conversations, rejects, _ = read(out)
    sampled = Counter(conversations.category)
    left_out = Counter(
        d.split(":")[0].removeprefix("category ") for d in rejects[rejects.reason == "not_sampled"].detail
    )
    assert set(sampled) == {"refusal", "technical", "creative", "advice", "factual", "other"}
    full = {c for c in sampled if left_out[c] > 0}  # categories that had more rows than their quota
    assert full and max(sampled[c] for c in full) - min(sampled[c] for c in full) <= 1
    assert all(sampled[c] <= min(sampled[f] for f in full) for c in sampled if c not in full)


def test_sharegpt_run_is_deterministic(sharegpt_run, shared_data, tmp_path):
    _, out = sharegpt_run
    run(context(tmp_path, source=str(shared_data / SAMPLE)), tmp_path)
    for first, second in zip(read(out), read(tmp_path), strict=True):
        pd.testing.assert_frame_equal(first, second)


def test_truncated_sharegpt_file_runs_on_its_complete_records(shared_data, tmp_path):
    data = (shared_data / SAMPLE).read_bytes()
    cut = tmp_path / "cut.json"
    cut.write_bytes(data[: len(data) // 3])
    n_complete = sum(1 for _ in iter_records(cut))
    assert 0 < n_complete < 3000
    run(context(tmp_path, source=str(cut), n_conversations=200), tmp_path)
    conversations, rejects, val_prompts = read(tmp_path)
    assert len(conversations) == 200
    check_invariants(conversations, rejects, val_prompts, n_complete, 20)


def record(cid, *texts):
    return {
        "id": cid,
        "conversations": [
            {"from": "human" if i % 2 == 0 else "gpt", "value": t} for i, t in enumerate(texts)
        ],
    }


def test_build_corpus_gives_every_dropped_record_a_traceable_reason():
    records = [
        record("dup", ""),  # empty turn: rejected, so the next "dup" is the first usable one
        record("dup", "What is 2+2?", "4."),
        record("dup", "What is 3+3?", "6."),
        record("toxic", "you idiot", "Let's stay kind."),
        {"conversations": []},
        record("ok", "Write a poem.", "Roses..."),
    ]
    tables = build_corpus(records, CorpusConfig(), seed=0, scorer=LexiconFilter({"idiot": 1.0}))
    kept = {c.conversation_id: c for c in tables.conversations}
    assert set(kept) == {"dup", "ok"} and kept["dup"].turns[0]["content"] == "What is 2+2?"
    got = {(r.row_id, r.reason) for r in tables.rejects}
    assert got == {
        ("dup", "no_reply"),
        ("dup", "duplicate_id"),
        ("toxic", "toxic"),
        ("record:4", "missing_id"),
    }
    dup = next(r for r in tables.rejects if r.reason == "duplicate_id")
    assert dup.detail == "record 2: same id as record 1, kept"
    assert tables.input_rows == len(records) == len(tables.conversations) + len(tables.rejects)
