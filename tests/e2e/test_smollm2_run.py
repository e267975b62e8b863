"""The whole study end to end on the builtin SmolLM2-135M, through the command line, then a rerun."""

import pytest
from e2e_helpers import check_run_dir, derived_config, warmray

from warmray.pipeline import STAGE_NAMES

pytestmark = pytest.mark.slow


def smaller(cfg: dict) -> None:
    """configs/smoke.yaml, cut down so CI stays well inside its time."""
    cfg["corpus"]["n_conversations"] = 12
    cfg["rewrite"]["sampling"]["max_tokens"] = 96
    cfg["train"] |= {"epochs": 1, "checkpoint_epochs": [0.5, 1], "eval_epoch": 1, "max_length": 256}
    cfg["grid"]["tasks"] = [{"name": "demo", "n": 12}]
    cfg["generate"]["sampling"]["max_tokens"] = 24


def test_smollm2_study_runs_end_to_end_and_a_rerun_does_nothing(tmp_path):
    config, run_dir = derived_config("smoke", tmp_path, smaller), tmp_path / "run"
    first = warmray("run", str(config), "--run-dir", str(run_dir))
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    verdicts = check_run_dir(run_dir, {"original", "warm"})
    assert set(verdicts["model"]) == {"smollm2-135m"}
    # SmolLM2 answers easy demo questions: some must be graded correct (a grader failing all is broken).
    assert (verdicts["verdict"] == "CORRECT").any()
    assert "error" in first.stdout.lower() and str(run_dir / "analyze" / "report.md") in first.stdout

    again = warmray("run", str(config), "--run-dir", str(run_dir))
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-4000:]
    assert again.stdout.count("already finished") == len(STAGE_NAMES)
    assert " done " not in again.stdout  # nothing ran, so no Ray and no engine started
