"""Corpus + rewrite on 8 real ShareGPT conversations: every drop is explained.

The rewriter is the builtin tiny random Llama: what is checked is the bookkeeping of long, many-turn real
conversations (one rewrite per assistant turn, every rejected turn and conversation accounted for), not
the rewrites' quality (with SmolLM2 as the rewriter this test took 305 s in CI, with this model 146 s).
`make demo` rewrites with SmolLM2.
"""

import pandas as pd
import pytest
from e2e_helpers import derived_config, warmray

pytestmark = pytest.mark.slow
SAMPLE = "sharegpt/ShareGPT_V3_unfiltered_cleaned_split.first3000.json"


def test_rewrite_of_8_sharegpt_conversations_explains_every_rejected_turn(tmp_path, shared_data):
    def edit(cfg):
        cfg["corpus"] |= {"source": str(shared_data / SAMPLE), "n_conversations": 8, "val_fraction": 0.2}
        # Short rewrites keep CI fast; loose length bounds let some through, the rest must be explained.
        cfg["rewrite"] |= {
            "styles": ["warm"],
            "model": "builtin:tiny-random",
            "sampling": {"temperature": 1.0, "max_tokens": 32},  # random weights at temperature 0: blanks
            "min_length_ratio": 0.01,
            "max_length_ratio": 100.0,
            "engine": {"max_model_len": 2048},
        }

    run_dir = tmp_path / "run"
    proc = warmray(
        "run", str(derived_config("smoke", tmp_path, edit)), "--run-dir", str(run_dir), "--until", "rewrite"
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]

    corpus = pd.read_parquet(run_dir / "corpus" / "conversations.parquet")
    assert len(corpus) == 8
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
