import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from warmray.config import ConfigError, ExperimentConfig, load_config

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_every_shipped_config_is_valid():
    configs = sorted((ROOT / "configs").rglob("*.yaml"))
    assert len(configs) >= 3, "configs went missing"
    for path in configs:
        # The schema always; the paths only where they exist here (paper configs name cluster mounts).
        ExperimentConfig.model_validate(yaml.safe_load(path.read_text()))
        if "/mnt/" not in path.read_text():
            load_config(path)


def test_unknown_key_names_its_path_and_the_valid_keys(tmp_path):
    path = write(tmp_path, "models: [{name: m, source: builtin:tiny-random}]\ntrain: {epoch: 3}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert "train.epoch: unknown key" in text
    assert "epochs" in text and "learning_rate" in text


def test_wrong_type_names_the_key(tmp_path):
    path = write(tmp_path, "models: [{name: m, source: builtin:tiny-random}]\ntrain: {learning_rate: fast}\n")
    with pytest.raises(ConfigError, match=r"train\.learning_rate"):
        load_config(path)


def test_missing_model_is_refused_before_any_work(tmp_path):
    path = write(tmp_path, "models: [{name: m, source: ./no/such/model}]\n")
    with pytest.raises(ConfigError, match=r"models\.0\.source"):
        load_config(path)


def test_unknown_builtin_model_lists_the_builtins(tmp_path):
    path = write(tmp_path, "models: [{name: m, source: 'builtin:gpt5'}]\n")
    with pytest.raises(ConfigError, match="builtin:smollm2-135m"):
        load_config(path)


def test_checkpoint_epochs_must_include_the_evaluated_epoch(tmp_path):
    path = write(
        tmp_path,
        "models: [{name: m, source: builtin:tiny-random}]\n"
        "train: {epochs: 2, checkpoint_epochs: [1]}\nevaluate: {epoch: 2}\n",
    )
    with pytest.raises(
        ConfigError, match=r"evaluate\.epoch 2\.0 must be one of train\.checkpoint_epochs \[1\.0\]"
    ):
        load_config(path)


def test_cli_bad_config_exits_2_with_one_paragraph_and_no_traceback(tmp_path):
    path = write(tmp_path, "models: [{name: m, source: builtin:tiny-random}]\nrewrite: {temprature: 0.2}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "warmray", "run", str(path), "--run-dir", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "rewrite.temprature: unknown key" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()


def test_section_hash_changes_only_with_its_section(tmp_path):
    base = load_config(ROOT / "configs" / "tiny.yaml")
    changed = base.model_copy(update={"judge": base.judge.model_copy(update={"grader": "llm"})})
    assert base.section_hash("train") == changed.section_hash("train")
    assert base.section_hash("judge") != changed.section_hash("judge")


def test_a_stage_identity_ignores_how_requests_are_sent_and_nothing_else():
    base = load_config(ROOT / "configs" / "tiny.yaml")
    sent = [f"{e}.{k}={v}" for e in ("judge.engine", "grid.wrong_answer_engine") for k, v in _SENDING.items()]
    resent = load_config(ROOT / "configs" / "tiny.yaml", sent)
    assert resent.judge.engine.request_tries == 9 and resent.grid.wrong_answer_engine.qps == 3
    assert base.identity_hash("judge", "grid") == resent.identity_hash("judge", "grid")
    assert base.section_hash("judge", "grid") != resent.section_hash("judge", "grid")
    other = load_config(ROOT / "configs" / "tiny.yaml", ["judge.engine.max_model_len=777"])
    assert base.identity_hash("judge") != other.identity_hash("judge")


_SENDING = {"request_tries": 9, "request_timeout_s": 5, "qps": 3, "max_failed_fraction": 0.5}


def test_a_missing_rewriter_model_names_its_key(tmp_path):
    path = write(
        tmp_path, "models: [{name: m, source: builtin:tiny-random}]\nrewrite: {model: /no/such/rewriter}\n"
    )
    with pytest.raises(ConfigError, match=r"rewrite\.model: .*neither"):
        load_config(path)
