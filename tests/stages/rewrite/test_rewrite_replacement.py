"""A conversation lost to a failed rewrite gives its place to a spare of its category, in every style."""

import json

import pandas as pd
import pytest

from warmray import infer
from warmray.config import ExperimentConfig
from warmray.pipeline import STAGES
from warmray.rundir import MANIFEST, RunDir
from warmray.schema import read_table
from warmray.stage import StageContext, run_stage
from warmray.stages import rewrite
from warmray.stages.rewrite import choose_replacements

CATEGORIES = {"t1": "a", "t2": "b", "t3": "a", "s1": "a", "s2": "b", "s3": "a"}


def test_each_failed_conversation_takes_the_next_unused_spare_of_its_category():
    chosen = choose_replacements(["t1", "t2", "t3"], CATEGORIES, ["s1", "s3", "s2"], used={"s1"})
    assert chosen == {"t1": "s3", "t2": "s2", "t3": None}


def test_a_category_with_no_spare_left_gets_none():
    assert choose_replacements(["t2"], CATEGORIES, ["s1", "s3"], used=set()) == {"t2": None}


def corpus_dir(tmp_path, monkeypatch, fail, **rewrite_cfg):
    """A run directory with the demo corpus committed, and an engine that answers '' to `fail`'s turns."""
    config = ExperimentConfig.model_validate(
        {
            "models": [{"name": "m", "source": "builtin:tiny-random"}],
            "corpus": {"n_conversations": 24, "max_val_prompts": 8},
            "rewrite": {"min_length_ratio": 0.01, "max_length_ratio": 100.0, **rewrite_cfg},
        }
    )
    ctx = StageContext(config, tmp_path)
    stages = {s.name: s for s in STAGES}
    run_stage(stages["corpus"], ctx)
    asked: list[set[str]] = []

    def fake_answer(requests, key, folder, *args, **kwargs):
        asked.append(set(requests["request_id"].str.split("#").str[0]))
        failing = requests["request_id"].map(fail)
        return pd.DataFrame(
            {
                "request_id": requests["request_id"],
                "generated_text": ["" if f else "A fine reply, kindly put." for f in failing],
                "inference_error": "",
                "num_generated_tokens": 5,
            }
        )

    monkeypatch.setattr(infer, "answer", fake_answer)
    # only the fake's empty replies fail (the real checks would also refuse code it does not copy)
    monkeypatch.setattr(rewrite, "check_rewrite", lambda original, text, lo, hi: None if text else "empty")
    conversations = ctx.read("corpus", "conversations")
    return ctx, stages["rewrite"], conversations, asked


def test_failed_conversations_are_replaced_from_their_category_and_counted(tmp_path, monkeypatch):
    failing: set[tuple[str, str]] = set()  # (conversation, style) whose rewrites come back empty

    def fail(request_id):
        cid, _, style = request_id.split("#")
        return (cid, style) in failing

    ctx, stage, conversations, asked = corpus_dir(tmp_path, monkeypatch, fail)
    train = conversations[conversations.split == "train"]
    spares = conversations[conversations.split == "spare"]
    # a technical and an advice conversation fail cold; the first technical spare then fails warm
    lost = [train.conversation_id[train.category == c].iloc[0] for c in ("technical", "advice")]
    tech_spares = list(spares.conversation_id[spares.category == "technical"])
    advice_spare = spares.conversation_id[spares.category == "advice"].iloc[0]
    failing.update({(lost[0], "cold"), (lost[1], "cold"), (tech_spares[0], "warm")})
    run_stage(stage, ctx)
    rundir = RunDir(tmp_path)
    rows = json.loads((rundir.stage("rewrite") / MANIFEST).read_text())["rows"]
    assert rows["warm"] == rows["cold"] == rows["shared_conversations"] == 24  # the configured size kept
    assert rows["replaced"] == 2 and rows["unfilled"] == 0
    warm = read_table(rundir.table("rewrite", "warm"), "training_conversations")
    cold = read_table(rundir.table("rewrite", "cold"), "training_conversations")
    assert list(warm.conversation_id) == list(cold.conversation_id)  # the same replacement in both styles
    assert set(warm.conversation_id) == set(train.conversation_id) - set(lost) | {
        tech_spares[1],
        advice_spare,
    }
    rejects = read_table(rundir.table("rewrite", "rejects"), "rejects")
    notes = dict(zip(rejects.row_id, rejects.detail, strict=True))
    assert notes[f"{lost[0]}:cold"] == f"empty; replaced by {tech_spares[0]}"
    assert notes[f"{lost[0]}:warm"] == f"replaced by {tech_spares[0]}"
    assert notes[f"{tech_spares[0]}:warm"] == f"empty; replaced by {tech_spares[1]}"
    # the training sample first, then only the spares needed, round by round
    assert asked == [
        set(train.conversation_id),
        set(train.conversation_id) | {tech_spares[0], advice_spare},
        set(train.conversation_id) | {tech_spares[0], advice_spare, tech_spares[1]},
    ]


def test_a_small_pool_trains_on_fewer_and_says_so(tmp_path, monkeypatch, caplog):
    def fail(request_id):  # every refusal conversation fails: the demo keeps no refusal spare
        return request_id.split("#")[0] in refusals

    refusals: set[str] = set()
    ctx, stage, conversations, _ = corpus_dir(tmp_path, monkeypatch, fail)
    refusals.update(conversations.conversation_id[conversations.category == "refusal"])
    run_stage(stage, ctx)
    rundir = RunDir(tmp_path)
    rows = json.loads((rundir.stage("rewrite") / MANIFEST).read_text())["rows"]
    assert rows["replaced"] == 0 and rows["unfilled"] == 4 and rows["warm"] == 20
    assert "4 of 24 training slots stay empty" in caplog.text
    rejects = read_table(rundir.table("rewrite", "rejects"), "rejects")
    assert set(rejects.detail[rejects.reason == "turn_failed"]) == {
        "empty; no spare left in category refusal"
    }


def test_no_replacement_rounds_trains_on_fewer(tmp_path, monkeypatch):
    first: list[str] = []
    ctx, stage, conversations, asked = corpus_dir(
        tmp_path, monkeypatch, lambda r: r.split("#")[0] in first, replacement_rounds=0
    )
    first.append(conversations.conversation_id.iloc[0])
    run_stage(stage, ctx)
    rows = json.loads((RunDir(tmp_path).stage("rewrite") / MANIFEST).read_text())["rows"]
    assert len(asked) == 1 and rows["replaced"] == 0 and rows["unfilled"] == 1 and rows["cold"] == 23


@pytest.fixture(autouse=True)
def _no_ray(monkeypatch):
    # the rewrite stage asks for Ray; the fake engine needs none
    monkeypatch.setattr("warmray.runtime.ensure_ray", lambda cfg: None)
