"""Hand-made verdict tables for the analysis tests."""

from __future__ import annotations

import pandas as pd


def verdict_rows(rows: list[tuple]) -> pd.DataFrame:
    """Verdicts from (model, task, variant, item_id, prompt_template, amendment_type, verdict) tuples."""
    cols = ["model", "task", "variant", "item_id", "prompt_template", "amendment_type", "verdict"]
    frame = pd.DataFrame(rows, columns=cols)
    frame.insert(6, "response", "an answer")
    return frame
