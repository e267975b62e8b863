"""The command line as a person meets it: overrides, one error path, exit codes, help."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from warmray import cli
from warmray.config import ConfigError, apply_overrides, load_config

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "configs" / "tiny.yaml"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "warmray", *args], capture_output=True, text=True, timeout=300, cwd=ROOT
    )


def test_set_overrides_nested_keys_and_list_items_and_validates_them():
    cfg = load_config(
        TINY,
        [
            "train.epochs=2",
            "train.checkpoint_epochs=[1, 2]",
            "evaluate.epoch=2",
            "models.0.source=builtin:smollm2-135m",
        ],
    )
    assert cfg.train.epochs == 2 and cfg.train.checkpoint_epochs == (1, 2)
    assert cfg.models[0].source == "builtin:smollm2-135m"
    with pytest.raises(ConfigError, match="train.epoch: unknown key"):
        load_config(TINY, ["train.epoch=2"])
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_config(TINY, ["train.epochs"])
    with pytest.raises(ConfigError, match="list index below 1"):
        apply_overrides({"models": [{"name": "a"}]}, ["models.3.name=b"])


def test_a_bad_override_exits_2_naming_the_key_without_a_traceback():
    proc = run_cli("grid", str(TINY), "--set", "grid.tasks=nonsense")
    assert proc.returncode == 2
    assert "grid.tasks" in proc.stderr and "Traceback" not in proc.stdout + proc.stderr


def test_bad_analysis_input_exits_2_with_one_paragraph(tmp_path):
    bad = tmp_path / "verdicts.csv"
    pd.DataFrame({"model": ["m"], "verdict": ["MAYBE"]}).to_csv(bad, index=False)
    proc = run_cli("analyze", "--from", str(bad), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert str(bad) in proc.stderr and "Traceback" not in proc.stdout + proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 3


def test_a_bug_shows_its_traceback_and_asks_for_a_report(monkeypatch, capsys):
    def broken(args, session):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(cli, "_run_stages", broken)
    assert cli.main(["grid", str(TINY)]) == 1
    out = capsys.readouterr().err
    assert "ZeroDivisionError" in out and "please report it" in out


def test_help_lists_every_stage_and_tool_without_loading_torch():
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys\nfrom warmray.cli import main\ntry:\n    main(['--help'])\n"
            "except SystemExit:\n    pass\nprint('torch' in sys.modules, 'ray' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("corpus", "generate", "warmth", "capability", "analyze", "plan", "sweep", "audit", "sociot"):
        assert name in proc.stdout
    assert proc.stdout.strip().endswith("False False")


def test_a_benchmark_file_missing_a_column_stops_the_grid_with_exit_2_naming_it(tmp_path, shared_data):
    data = tmp_path / "data" / "truthfulqa"
    data.mkdir(parents=True)
    frame = pd.read_csv(shared_data / "truthfulqa" / "TruthfulQA.csv").drop(columns=["Incorrect Answers"])
    frame.to_csv(data / "TruthfulQA.csv", index=False)
    config = tmp_path / "c.yaml"
    config.write_text(
        "models: [{name: m, source: builtin:tiny-random}]\n"
        f"grid: {{tasks: [{{name: truthfulqa, n: 5}}], data_dir: {tmp_path / 'data'}}}\n"
    )
    proc = run_cli("grid", str(config), "--run-dir", str(tmp_path / "run"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Incorrect Answers" in proc.stderr and "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "run" / "grid").exists()
