"""Fixtures for the analysis tests: verdict tables with known properties."""

from __future__ import annotations

import pandas as pd
import pytest

from warmray.statistics.synthetic import synthetic_verdicts


@pytest.fixture
def demo_verdicts() -> pd.DataFrame:
    """Like the demo run: one model, one task, 40 items, original and warm, a few contexts."""
    frame = synthetic_verdicts(models=("smollm2",), tasks=("demo",), items_per_task=40, seed=3)
    keep = frame["amendment_type"].isin(["unmodified", "emotion:sad", "stake:high"])
    return frame[keep].reset_index(drop=True)
