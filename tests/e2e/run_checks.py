"""What every finished run directory must hold, shared by the end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from warmray.records import ANALYSIS_COLUMNS, VERDICTS


def check_run_dir(run_dir: Path, variants: set[str]) -> pd.DataFrame:
    """Assert the stage outputs are complete and consistent; return the verdicts."""
    for stage in ("corpus", "rewrite", "train", "grid", "generate", "judge", "analyze"):
        assert (run_dir / stage / "manifest.json").is_file(), f"{stage} did not finish"
    prompts = pd.read_parquet(run_dir / "grid" / "prompts.parquet")
    assert prompts["prompt_id"].is_unique
    responses = pd.read_parquet(run_dir / "generate" / "responses")
    assert len(responses) == len(prompts) * len(variants)
    assert set(responses["variant"]) == variants
    assert responses["response_id"].is_unique
    assert (responses["inference_error"] == "").all()
    verdicts = pd.read_parquet(run_dir / "judge" / "verdicts")
    assert len(verdicts) == len(responses)
    assert set(verdicts["verdict"]) <= set(VERDICTS)
    assert set(ANALYSIS_COLUMNS) <= set(verdicts.columns)
    adapters = list((run_dir / "train").glob("*/warm/epoch_*/adapter_model.safetensors"))
    assert adapters, "no warm adapter was saved"
    report = (run_dir / "analyze" / "report.md").read_text()
    assert "pipeline" in report.lower()
    assert (run_dir / "analyze" / "report.html").stat().st_size > 10_000
    return verdicts
