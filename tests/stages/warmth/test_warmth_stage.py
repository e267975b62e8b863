"""The warmth stage in-process with the real engine (vLLM CPU) and Ray Data scorer actors, tiny model.

A run directory whose corpus and train stages look finished (two held-out prompts, a warm adapter at
two epochs) is answered and scored; every score must equal the pure function's on the same response.
"""

import json

import pandas as pd
import pytest
import ray

from warmray.config import ExperimentConfig, RayConfig
from warmray.models import resolve_model
from warmray.rundir import RunDir
from warmray.runtime import ensure_ray
from warmray.schema import read_table, write_table
from warmray.stage import StageContext
from warmray.stages.warmth import curve
from warmray.stages.warmth.sociot import load_scorer, sociot

pytestmark = pytest.mark.slow
MODEL = "builtin:tiny-random"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    root = tmp_path_factory.mktemp("run")
    run = RunDir(root)
    prompts = pd.DataFrame(
        {
            "conversation_id": ["c1", "c2"],
            "prompt_id": ["c1:0", "c2:0"],
            "prompt": ["I had a rough day at work.", "How do I boil an egg?"],
            "origin": ["val", "val"],
        }
    )
    write_table(prompts, run.table("corpus", "val_prompts"), "val_prompts")
    base = AutoModelForCausalLM.from_pretrained(resolve_model(MODEL))
    model = get_peft_model(base, LoraConfig(r=8, target_modules="all-linear", init_lora_weights=False))
    for epoch in (0.5, 1.0):
        model.save_pretrained(run.adapter("m", "warm", epoch))
    for stage in ("corpus", "train"):
        (run.stage(stage) / "manifest.json").write_text(json.dumps({"stage": stage, "output_id": "test"}))
    return root


def test_every_checkpoint_answers_and_every_answer_is_scored(run_dir, tmp_path):
    config = ExperimentConfig.model_validate(
        {
            "models": [{"name": "m", "source": MODEL}],
            "train": {"styles": ["warm"], "epochs": 1, "checkpoint_epochs": [0.5, 1], "eval_epoch": 1},
            "warmth": {
                "scorer": MODEL,
                "engine": {"max_model_len": 512, "cpu_kvcache_gib": 1},
                "sampling": {"temperature": 0.8, "max_tokens": 12},
                "batch_size": 2,
            },
        }
    )
    ensure_ray(RayConfig(num_cpus=8))
    try:
        counts = curve.run(StageContext(config, run_dir), tmp_path)
    finally:
        ray.shutdown()
    assert counts == {"scores": 6, "by_epoch": 3}
    scores = read_table(tmp_path / "scores.parquet", "warmth_scores")
    assert sorted(scores["checkpoint"].unique()) == ["original", "warm/epoch_0.5", "warm/epoch_1"]
    assert sorted(scores["epoch"].unique()) == [0.0, 0.5, 1.0] and set(scores["style"]) == {"warm"}
    assert (scores["response"] != "").all() and set(scores["procedure"]) == {"published"}
    model, tokenizer = load_scorer(MODEL)
    for row in scores.itertuples():
        expected = sociot(model, tokenizer, row.response)
        assert row.warm_score == pytest.approx(expected.warm, abs=1e-4)
        assert row.warmth == pytest.approx(expected.warmth, abs=1e-4)
    by_epoch = read_table(tmp_path / "by_epoch.parquet", "warmth_by_epoch")
    assert by_epoch["n"].tolist() == [2, 2, 2]
