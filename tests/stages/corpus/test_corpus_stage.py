import json
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
    "invalid_json",
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
    assert set(conversations.split) <= {"train", "spare"}
    # the training sample first, then the spares; a category has at most as many spares as it trains on
    assert list(conversations.split) == sorted(conversations.split, key=lambda s: s != "train")
    per = conversations.groupby(["category", "split"]).size().unstack(fill_value=0)
    assert (per.get("spare", 0) <= per["train"]).all()
    # held-out prompts come from filtered conversations outside the training sample and the spares
    not_sampled = set(rejects.row_id[rejects.reason == "not_sampled"])
    assert set(val_prompts.conversation_id) <= not_sampled and set(val_prompts.origin) <= {"unsampled"}
    for split in ("train", "spare"):  # neither trained on nor replacing a trained one
        mine = conversations[conversations.split == split]
        texts = {text_key(t["content"]) for turns in mine.turns for t in turns if t["role"] == "user"}
        assert not set(val_prompts.prompt.map(text_key)) & texts
        assert not {chat_root(c) for c in val_prompts.conversation_id} & set(
            mine.conversation_id.map(chat_root)
        )
    assert val_prompts.prompt_id.is_unique and val_prompts.prompt.map(text_key).is_unique


def test_demo_corpus_stage_writes_the_three_tables(tmp_path):
    rows = run(context(tmp_path, n_conversations=24, max_val_prompts=8), tmp_path)
    conversations, rejects, val_prompts = read(tmp_path)
    # 24 trained on (4 a category), 8 held-out prompts, and then spares from the 10 left
    assert rows == {"conversations": 34, "train": 24, "spares": 10, "val_prompts": 8, "rejects": 8}
    assert list(conversations.columns) == columns("conversations")
    assert list(rejects.columns) == columns("rejects")
    assert list(val_prompts.columns) == ["conversation_id", "prompt_id", "prompt", "origin"]
    assert set(val_prompts.conversation_id) == set(rejects.row_id)
    turns_type = pq.read_schema(tmp_path / "conversations.parquet").field("turns").type
    assert pa.types.is_list(turns_type)
    assert turns_type.value_type == pa.struct([("role", pa.string()), ("content", pa.string())])
    train = conversations[conversations.split == "train"]
    assert Counter(train.category) == {
        c: 4 for c in ["refusal", "technical", "creative", "advice", "factual", "other"]
    }
    assert set(rejects.reason) == {"not_sampled"} and (conversations.source == "builtin:demo").all()
    check_invariants(conversations, rejects, val_prompts, 42, 20)


def test_a_sample_that_takes_the_whole_pool_leaves_no_spare_and_no_prompt_and_says_so(tmp_path, caplog):
    rows = run(context(tmp_path), tmp_path)
    assert rows == {"conversations": 42, "train": 42, "spares": 0, "val_prompts": 0, "rejects": 0}
    assert "no spare conversation in advice, creative" in caplog.text
    assert "no held-out prompt" in caplog.text


def test_val_prompts_are_capped_and_what_they_leave_becomes_spares(tmp_path):
    rows = run(context(tmp_path, n_conversations=30, max_val_prompts=3), tmp_path)
    assert rows["val_prompts"] == 3 and rows["train"] == 30 and rows["spares"] == 9
    check_invariants(*read(tmp_path), 42, 20)


@pytest.fixture(scope="module")
def sharegpt_run(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    rows = run(context(out, source=str(shared_data / SAMPLE)), out)
    return rows, out


def test_sharegpt_sample_accounts_for_every_input_record(sharegpt_run):
    rows, out = sharegpt_run
    conversations, rejects, val_prompts = read(out)
    check_invariants(conversations, rejects, val_prompts, 3000, 20)
    assert rows["train"] == 1617 and rows["rejects"] == 3000 - rows["conversations"]
    assert 0 < rows["spares"] == rows["conversations"] - 1617
    reasons = Counter(rejects.reason)
    assert reasons["not_sampled"] > 0 and reasons["empty"] > 0 and reasons["not_alternating"] > 0


def test_sharegpt_sample_holds_out_as_many_prompts_as_it_can(sharegpt_run, shared_data):
    rows, out = sharegpt_run
    conversations, rejects, val_prompts = read(out)
    train = conversations[conversations.split == "train"]
    kept = set(conversations.conversation_id) | set(rejects.row_id[rejects.reason == "not_sampled"])
    pool: dict[str, str] = {}  # filtered conversations outside the sample; the first record of an id is kept
    for c in (clean_record(r, 20) for r in iter_records(shared_data / SAMPLE)):
        if (
            isinstance(c, Cleaned)
            and c.conversation_id in kept
            and c.conversation_id not in set(train.conversation_id)
        ):
            pool.setdefault(c.conversation_id, c.turns[0]["content"])
    trained = {text_key(t["content"]) for turns in train.turns for t in turns if t["role"] == "user"}
    train_chats = {chat_root(cid) for cid in train.conversation_id}
    available = {text_key(p) for cid, p in pool.items() if chat_root(cid) not in train_chats} - trained
    assert rows["val_prompts"] == len(val_prompts) == min(1500, len(available)) > 300
    by_id = dict(zip(val_prompts.conversation_id, val_prompts.prompt, strict=True))
    assert all(by_id[cid] == p for cid, p in pool.items() if cid in by_id)


def test_sharegpt_sample_is_balanced_as_far_as_categories_allow(sharegpt_run):
    _, out = sharegpt_run
    conversations, rejects, _ = read(out)
    sampled = Counter(conversations.category[conversations.split == "train"])
    left_out = Counter(
        d.split(":")[0].removeprefix("category ") for d in rejects[rejects.reason == "not_sampled"].detail
    ) + Counter(conversations.category[conversations.split == "spare"])
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
    assert (conversations.split == "train").sum() == 200
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


def test_one_malformed_record_in_a_sharegpt_file_sets_aside_that_record_only(shared_data, tmp_path):
    full = json.loads((shared_data / SAMPLE).read_bytes())[:600]
    texts = [json.dumps(r) for r in full]
    texts[100] = texts[100].replace('"conversations":', '"conversations"', 1)  # no colon: invalid JSON
    source = tmp_path / "one_bad.json"
    source.write_text("[" + ",\n".join(texts) + "]", encoding="utf-8")
    rows = run(context(tmp_path, source=str(source), n_conversations=200), tmp_path)
    conversations, rejects, val_prompts = read(tmp_path)
    check_invariants(conversations, rejects, val_prompts, 600, 20)
    bad = rejects[rejects.reason == "invalid_json"]
    assert list(bad.row_id) == ["record:100"] and bad.detail.iloc[0].startswith(f"{source}: record 100: ")
    # every other record was read: the same corpus as the 599 good records alone, but one reject more
    alone = tmp_path / "good.json"
    alone.write_text(json.dumps(full[:100] + full[101:]), encoding="utf-8")
    again = run(context(tmp_path / "alone", source=str(alone), n_conversations=200), tmp_path / "alone")
    assert rows["train"] == again["train"] == 200 and rows["rejects"] == again["rejects"] + 1
