"""A sweep restores only the config it was made with; how requests are sent is not part of it."""

import json
from pathlib import Path

import pytest

from warmray.config import load_config
from warmray.sweep.tuning import IDENTITY_FILE, SweepChangedError, check_identity

SWEEP = Path(__file__).resolve().parents[2] / "configs" / "sweep.yaml"


def test_a_sweep_restores_after_the_tries_change_and_refuses_another_config(tmp_path):
    check_identity(load_config(SWEEP), tmp_path)
    check_identity(load_config(SWEEP, ["judge.engine.request_tries=9"]), tmp_path)
    with pytest.raises(SweepChangedError, match="different config"):
        check_identity(load_config(SWEEP, ["seed=7"]), tmp_path)


def test_a_sweep_recorded_with_the_older_whole_config_hash_restores(tmp_path):
    config = load_config(SWEEP)
    (tmp_path / IDENTITY_FILE).write_text(json.dumps({"config_hash": config.section_hash()}))
    check_identity(config, tmp_path)
    assert json.loads((tmp_path / IDENTITY_FILE).read_text()) == {"config_hash": config.identity_hash()}
