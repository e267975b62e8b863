"""One key moves a config between CPU and GPU; engines are written once; moved and removed keys say so."""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from warmray.config import ENGINE_KEYS, ConfigError, ExperimentConfig, load_config

ROOT = Path(__file__).resolve().parents[1]
PAPER_OPEN = ROOT / "configs" / "paper-open.yaml"
MODEL = "models: [{name: m, source: builtin:tiny-random}]\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(MODEL + text)
    return path


def engines(cfg: ExperimentConfig) -> dict[str, object]:
    return {f"{s}.{k}": getattr(getattr(cfg, s), k) for s, k in ENGINE_KEYS}


def test_paper_open_moves_from_gpu_to_cpu_with_one_key():
    gpu, cpu = load_config(PAPER_OPEN), load_config(PAPER_OPEN, ["device=cpu"])
    for name, engine in engines(gpu).items():
        assert (engine.device, engine.dtype, engine.enforce_eager) == ("gpu", "bfloat16", False), name
    for name, engine in engines(cpu).items():
        assert (engine.device, engine.dtype, engine.enforce_eager) == ("cpu", "float32", True), name
    assert (gpu.train.device, gpu.train.dtype, gpu.warmth.device) == ("gpu", "bfloat16", "gpu")
    assert (cpu.train.device, cpu.train.dtype, cpu.warmth.device) == ("cpu", "float32", "cpu")
    # Nothing else moves: the engines' sizes are the same on both devices.
    assert cpu.judge.engine.tensor_parallel_size == gpu.judge.engine.tensor_parallel_size == 4
    assert cpu.rewrite.engine.max_model_len == gpu.rewrite.engine.max_model_len == 8192


@pytest.mark.parametrize("flip", [[], ["--set", "device=cpu"]], ids=["gpu", "cpu"])
def test_warmray_plan_plans_paper_open_on_either_device(flip):
    proc = subprocess.run(
        [sys.executable, "-m", "warmray", "plan", str(PAPER_OPEN), "--trace", "off", *flip],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    train = [line for line in proc.stdout.splitlines() if line.startswith("train ")]
    assert len(train) == 8, proc.stdout  # four models, warm and cold
    on_cpu = ["Ray Train" in line and ", CPU" in line and "SPREAD" in line for line in train]
    assert on_cpu == [bool(flip)] * 8, proc.stdout
    assert ("vLLM on CPU" in proc.stdout) == bool(flip), proc.stdout


def test_a_section_names_an_engine_profile_and_may_change_some_of_its_settings(tmp_path):
    path = write(
        tmp_path,
        "engines: {big: {tensor_parallel_size: 2, max_model_len: 4096}}\n"
        "judge: {engine: big}\n"
        "rewrite: {engine: {profile: big, max_model_len: 8192}}\n"
        "generate: {engine: {batch_size: 4}}\n",
    )
    cfg = load_config(path)
    assert (cfg.judge.engine.tensor_parallel_size, cfg.judge.engine.max_model_len) == (2, 4096)
    assert (cfg.rewrite.engine.tensor_parallel_size, cfg.rewrite.engine.max_model_len) == (2, 8192)
    assert (cfg.generate.engine.tensor_parallel_size, cfg.generate.engine.batch_size) == (1, 4)
    # The resolved config reloads as it is (the sweep dumps and validates trial configs).
    assert ExperimentConfig.model_validate(cfg.model_dump(mode="json")) == cfg


def test_an_unknown_engine_profile_names_the_section_and_the_profiles(tmp_path):
    path = write(tmp_path, "engines: {big: {}}\ngenerate: {engine: bigg}\n")
    with pytest.raises(
        ConfigError, match=r"generate\.engine: no engine profile named 'bigg' \(engines defines: big\)"
    ):
        load_config(path)


def test_an_old_config_with_a_device_in_its_sections_is_told_to_write_it_once(tmp_path):
    path = write(tmp_path, "generate: {engine: {device: gpu, dtype: bfloat16}}\nwarmth: {device: gpu}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "generate.engine.device: gpu; warmth.device: gpu" in text
    assert "Write `device: gpu` at the top level" in text


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        ("train: {use_gpu: true}\n", "train.use_gpu", "top-level `device: gpu`"),
        ("generate: {shard_rows: 100}\n", "generate.shard_rows", "delete it"),
        (
            "engines: {big: {pipeline_parallel_size: 2}}\n",
            "engines.big.pipeline_parallel_size",
            "pipeline parallelism is not supported",
        ),
        (
            "judge: {engine: {pipeline_parallel_size: 1}}\n",
            "judge.engine.pipeline_parallel_size",
            "delete it",
        ),
    ],
)
def test_a_removed_key_is_refused_naming_it_and_what_to_do(tmp_path, text, key, hint):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert f"{key}: a removed key;" in str(err.value) and hint in str(err.value)


def test_train_eval_epoch_is_read_as_evaluate_epoch_with_one_warning(tmp_path, caplog):
    path = write(tmp_path, "train: {epochs: 2, checkpoint_epochs: [1, 2], eval_epoch: 1}\n")
    with caplog.at_level(logging.WARNING, logger="warmray.config"):
        from_file = load_config(path)
    assert from_file.evaluate.epoch == 1
    assert [r.getMessage() for r in caplog.records] == [
        "train.eval_epoch is now evaluate.epoch (read as evaluate.epoch: 1); write that in the config"
    ]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="warmray.config"):
        from_set = load_config(ROOT / "configs" / "smoke.yaml", ["train.eval_epoch=1"])
    assert from_set.evaluate.epoch == 1 and len(caplog.records) == 1
    assert "train.eval_epoch is now evaluate.epoch" in caplog.records[0].getMessage()


def test_the_old_and_new_eval_epoch_keys_disagreeing_is_refused(tmp_path):
    path = write(tmp_path, "train: {eval_epoch: 4}\nevaluate: {epoch: 2}\n")
    with pytest.raises(ConfigError, match="train.eval_epoch .4. and evaluate.epoch .2. differ"):
        load_config(path)


def test_an_engine_lists_the_keys_one_may_write_there(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "judge: {engine: {profil: big}}\n"))
    valid = str(err.value).split("Valid keys here:")[1]
    assert "profile" in valid and "max_model_len" in valid and "device" not in valid


def test_the_warmth_curve_epochs_default_to_every_trained_checkpoint(tmp_path):
    cfg = load_config(write(tmp_path, "train: {epochs: 2, checkpoint_epochs: [1, 2]}\n"))
    assert cfg.warmth_epochs() == (1, 2)
    chosen = load_config(
        write(tmp_path, "train: {epochs: 2, checkpoint_epochs: [1, 2]}\nwarmth: {epochs: [2]}\n")
    )
    assert chosen.warmth_epochs() == (2,)


def test_every_shipped_config_plans():
    from warmray.plan import add_arguments, build_plan, cluster_for

    configs = sorted((ROOT / "configs").rglob("*.yaml"))
    assert len(configs) >= 7, "configs went missing"
    for path in configs:
        # The schema: the paper configs name cluster mounts (/mnt/...) that load_config cannot find here.
        cfg = ExperimentConfig.model_validate(yaml.safe_load(path.read_text()))
        parser = argparse.ArgumentParser()
        add_arguments(parser)
        plan = build_plan(
            cfg, cluster_for(cfg, parser.parse_args([str(path), "--trace", "off"])), trace="off"
        )
        assert plan.work, path.name


def test_set_changes_one_sections_engine_that_names_a_profile():
    cfg = load_config(PAPER_OPEN, ["generate.engine.batch_size=8"])
    assert (cfg.generate.engine.batch_size, cfg.generate.engine.max_model_len) == (8, 4096)
    assert cfg.warmth.engine.batch_size == 64  # the profile itself is unchanged for the other sections


def test_a_model_trains_with_its_own_workers_and_strategy_else_the_train_sections():
    cfg = load_config(PAPER_OPEN)
    small, large = cfg.models[0], cfg.models[3]
    assert (cfg.train.for_model(small).num_workers, cfg.train.for_model(small).strategy) == (8, "ddp")
    assert cfg.train.for_model(large).strategy == "fsdp"
    plain = load_config(ROOT / "configs" / "smoke.yaml")
    assert plain.train.for_model(plain.models[0]).num_workers == plain.train.num_workers == 2


def test_paper_open_engines_keep_the_settings_they_had_before_profiles():
    # (tensor_parallel_size, concurrency, max_model_len, batch_size) as the six blocks spelled them out.
    before = {
        "rewrite.engine": (4, 2, 8192, 32),
        "grid.wrong_answer_engine": (4, 1, 2048, 64),
        "generate.engine": (1, 1, 4096, 64),
        "judge.engine": (4, 2, 4096, 64),
        "warmth.engine": (1, 1, 4096, 64),
        "capability.engine": (1, 1, 4096, 64),
    }
    now = {
        name: (e.tensor_parallel_size, e.concurrency, e.max_model_len, e.batch_size)
        for name, e in engines(load_config(PAPER_OPEN)).items()
    }
    assert now == before
