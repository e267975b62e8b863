"""Training fixtures: the tiny random Llama, a small training table, a local Ray."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_helpers import conversations

from warmray.models import resolve_model


@pytest.fixture(scope="session")
def tiny_model() -> str:
    """The 2-layer random-weight Llama (head_dim 64), built once."""
    return resolve_model("builtin:tiny-random")


@pytest.fixture(scope="module")
def train_tables(tmp_path_factory) -> tuple[Path, Path]:
    """(warm rewrite table, original conversations) as Parquet files."""
    folder = tmp_path_factory.mktemp("tables")
    warm, original = folder / "warm.parquet", folder / "conversations.parquet"
    conversations("warm").to_parquet(warm, index=False)
    conversations("original").to_parquet(original, index=False)
    return warm, original


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with logical CPUs for 2 training workers and the controller."""
    import ray

    ray.init(num_cpus=4, include_dashboard=False, ignore_reinit_error=True)
    yield
    ray.shutdown()
