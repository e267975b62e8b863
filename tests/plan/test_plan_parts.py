"""The planner's pieces: model shapes, memory per GPU, token counts from a real local tokenizer."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from warmray.config import ConfigError
from warmray.plan import memory, tokens
from warmray.plan.shapes import KNOWN, model_shape, shape_from_config


@pytest.mark.parametrize(
    ("model", "billions"),
    [
        ("meta-llama/Llama-3.1-8B-Instruct", 8.03),
        ("meta-llama/Llama-3.1-70B-Instruct", 70.55),
        ("mistralai/Mistral-Small-Instruct-2409", 22.25),
        ("builtin:smollm2-135m", 0.1345),
    ],
)
def test_parameter_counts_match_the_published_sizes(model, billions):
    assert model_shape(model, "k").params / 1e9 == pytest.approx(billions, rel=0.01)


def test_a_local_folder_is_read_from_its_config_json(tmp_path):
    cfg = {
        "num_hidden_layers": 2,
        "hidden_size": 128,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "head_dim": 64,
        "intermediate_size": 256,
        "vocab_size": 49152,
        "tie_word_embeddings": True,
    }
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    assert model_shape(str(tmp_path), "k").params == KNOWN["builtin:tiny-random"].params
    assert shape_from_config(cfg, "x").kv_bytes_per_token(2) == 2 * 2 * 2 * 64 * 2


def test_an_unknown_hub_model_is_refused_offline_naming_the_key(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    with pytest.raises(ConfigError, match=r"models\.0\.source: the shape of 'org/unknown-9b' is unknown"):
        model_shape("org/unknown-9b", "models.0.source")


def test_fsdp_shards_the_weights_and_ddp_does_not():
    shape = KNOWN["meta-llama/llama-3.1-70b-instruct"]
    common = dict(
        dtype="bfloat16", batch=2, max_length=1024, lora_r=8, gpu_gib=80, activation_factor=34, overhead_gib=2
    )
    ddp = memory.train_fit(shape, strategy="ddp", workers=8, **common)
    fsdp = memory.train_fit(shape, strategy="fsdp", workers=8, **common)
    assert ddp.parts["weights"] == pytest.approx(70.55e9 * 2 / memory.GIB, rel=0.01)
    # a 1/8 shard, plus the layers and embeddings FSDP gathers while they compute
    assert ddp.parts["weights"] / 8 < fsdp.parts["weights"] < ddp.parts["weights"] / 4
    assert not ddp.fits and fsdp.fits


def test_the_kv_cache_is_what_the_weights_leave_and_grows_with_tensor_parallelism():
    shape = KNOWN["meta-llama/llama-3.1-70b-instruct"]

    def fit(tp):
        return memory.engine_fit(
            shape,
            tensor_parallel=tp,
            dtype="bfloat16",
            gpu_gib=80,
            utilization=0.9,
            lora_r=None,
            max_loras=1,
            overhead_gib=3,
        )

    assert not fit(1).fits_weights  # 131 GiB of weights > 0.9 x 80
    assert 0 < fit(2).kv_tokens < 32_000 < 100_000 < fit(4).kv_tokens
    assert memory.smallest_tensor_parallel(shape, 4096, 8, fit) == 2
    assert memory.smallest_tensor_parallel(shape, 65536, 8, fit) == 4


def test_real_token_counts_come_from_a_local_tokenizer_and_the_corpus(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    words = {"[UNK]": 0, "hello": 1, "there": 2, "friend": 3}
    tok = Tokenizer(models.WordLevel(words, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(model / "tokenizer.json"))
    run = tmp_path / "run"
    (run / "corpus").mkdir(parents=True)
    turns = [{"role": "user", "content": "hello there"}, {"role": "assistant", "content": "hello friend x y"}]
    pd.DataFrame({"turns": [turns, turns], "split": ["train", "val"]}).to_parquet(
        run / "corpus" / "conversations.parquet"
    )
    counted = tokens.measured(run, str(model), template=6)
    assert counted is not None
    assert counted.per_conversation == (2 + 6) + (4 + 6)
    assert counted.per_assistant_turn == 4 + 6
    assert "tokenizer" in counted.source and "1 training conversations" in counted.source
    assert tokens.measured(tmp_path / "no-run", str(model), template=6) is None
