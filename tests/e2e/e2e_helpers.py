"""Shared by the end-to-end tests: configs derived from configs/, the CLI in a subprocess, run checks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from warmray.pipeline import STAGE_NAMES
from warmray.schema import ANALYSIS_COLUMNS, VERDICTS

ROOT = Path(__file__).resolve().parents[2]
SERVER_KEY = "sk-warmray-test-0123456789abcdef"  # the API key the shared vLLM server (conftest) asks for
SERVER_MODEL = "tiny"  # the name that server serves builtin:tiny-random by
SERVER_KEY_ENV = "WARMRAY_SERVER_KEY"  # where a command's workers read SERVER_KEY from (server_rewriter)
SHAREGPT_SAMPLE = "sharegpt/ShareGPT_V3_unfiltered_cleaned_split.first3000.json"  # in ../shared/data


def derived_config(name: str, folder: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """configs/<name>.yaml with `edit` applied, written into folder."""
    cfg = yaml.safe_load((ROOT / "configs" / f"{name}.yaml").read_text())
    edit(cfg)
    path = folder / f"{name}-derived.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def server_rewriter(url: str) -> dict[str, Any]:
    """A rewrite section's model and engine that send the rewrites to the shared vLLM server at url."""
    return {"model": SERVER_MODEL, "engine": {"endpoint": url, "api_key_env": SERVER_KEY_ENV}}


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def warmray(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The warmray command line, as a user runs it, from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "warmray", *args],
        env=os.environ | (env or {}),
        capture_output=True,
        text=True,
        timeout=1500,
        cwd=ROOT,
    )


def warmray_process(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """The warmray command line started in the background (stdout and stderr captured as text)."""
    return subprocess.Popen(
        [sys.executable, "-m", "warmray", *args],
        env=os.environ | (env or {}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def check_run_dir(run_dir: Path, variants: set[str]) -> pd.DataFrame:
    """Assert the stage outputs are complete and consistent; return the verdicts."""
    for stage in STAGE_NAMES:
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
