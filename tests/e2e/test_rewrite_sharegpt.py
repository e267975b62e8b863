"""Corpus + rewrite on 50 real ShareGPT conversations with the builtin model: every drop is explained."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def test_rewrite_of_50_sharegpt_conversations_explains_every_rejected_turn(tmp_path, shared_data):
    cfg = yaml.safe_load((ROOT / "configs" / "smoke.yaml").read_text())
    cfg["corpus"] |= {
        "source": str(shared_data / "sharegpt" / "ShareGPT_V3_unfiltered_cleaned_split.first3000.json"),
        "n_conversations": 50,
        "val_fraction": 0.1,
    }
    # Short rewrites keep CI fast; loose length bounds let some through, the rest must be explained.
    cfg["rewrite"] |= {
        "sampling": {"temperature": 0.7, "max_tokens": 48},
        "min_length_ratio": 0.01,
        "max_length_ratio": 100.0,
        "engine": {"max_model_len": 2048},
    }
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(cfg))
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "warmray",
            "run",
            str(config),
            "--run-dir",
            str(run_dir),
            "--until",
            "rewrite",
        ],
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]

    corpus = pd.read_parquet(run_dir / "corpus" / "conversations.parquet")
    assert len(corpus) == 50
    turns = pd.read_parquet(run_dir / "rewrite" / "rewrites.parquet")
    rejects = pd.read_parquet(run_dir / "rewrite" / "rejects.parquet")
    warm = pd.read_parquet(run_dir / "rewrite" / "warm.parquet")
    train = corpus[corpus["split"] == "train"]
    n_assistant = sum(sum(t["role"] == "assistant" for t in turns_) for turns_ in train["turns"])
    assert len(turns) == n_assistant  # one rewrite per assistant turn of every training conversation
    failed = turns[turns["reason"] != ""]
    assert set(failed["request_id"]) <= set(rejects["row_id"])
    assert (rejects["reason"] != "").all()
    # Every training conversation is either in the warm table or rejected with the failing turns' reasons.
    rejected_convs = {r.split(":")[0] for r in rejects.loc[rejects["reason"] == "turn_failed", "row_id"]}
    assert set(warm["conversation_id"]) | rejected_convs == set(train["conversation_id"])
    assert not set(warm["conversation_id"]) & rejected_convs
    # A kept conversation carries only turns that passed every check.
    kept = turns[turns["conversation_id"].isin(warm["conversation_id"])]
    assert (kept["reason"] == "").all()
