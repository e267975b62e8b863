from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import verdict_rows
from statsmodels.stats.proportion import proportion_confint

from warmray.stages.analyze import AnalysisInputError, error_summary, format_summary
from warmray.statistics.synthetic import synthetic_capability, synthetic_warmth
from warmray.statistics.tables import capability_table, error_table, warmth_table, wilson_interval
from warmray.statistics.verdicts import prepare


def _verdicts() -> pd.DataFrame:
    rows = []
    for i in range(4):
        rows.append(
            (
                "m",
                "triviaqa",
                "original",
                f"q{i}",
                "original",
                "unmodified",
                "INCORRECT" if i == 0 else "CORRECT",
            )
        )
        rows.append(
            ("m", "triviaqa", "warm", f"q{i}", "original", "unmodified", "INCORRECT" if i < 3 else "CORRECT")
        )
        rows.append(("m", "triviaqa", "warm", f"q{i}", "incorrect", "emotion:sad", "INCORRECT"))
    rows.append(("m", "triviaqa", "warm", "q9", "original", "unmodified", "REFUSAL"))
    return verdict_rows(rows)


def test_error_summary_gives_rates_and_counts_per_variant():
    summary = error_summary(_verdicts()).set_index("prompt_template")
    assert (
        summary.loc["original", "n_original"] == 4 and summary.loc["original", "n_warm"] == 4
    )  # refusal out
    assert summary.loc["original", "error_original_pct"] == 25
    assert summary.loc["original", "error_warm_pct"] == 75
    assert summary.loc["incorrect", "n_original"] == 0 and np.isnan(
        summary.loc["incorrect", "error_original_pct"]
    )


def test_format_summary_prints_rates_and_the_difference():
    text = format_summary(error_summary(_verdicts()))
    line = next(ln for ln in text.splitlines() if " original " in f" {ln} " and "triviaqa" in ln)
    assert "25.0% (n=4)" in line and "75.0% (n=4)" in line and "+50.0 pp" in line
    assert "refusals" in text.splitlines()[0]


def test_wilson_interval_matches_statsmodels():
    k, n = np.array([0, 3, 50, 99]), np.array([10, 40, 100, 100])
    low, high = wilson_interval(k, n)
    ref_low, ref_high = proportion_confint(k, n, method="wilson")
    np.testing.assert_allclose(low, ref_low)
    np.testing.assert_allclose(high, ref_high)


def test_error_table_uses_only_prompts_without_context_or_belief():
    table = error_table(prepare(_verdicts())).set_index("variant")
    assert table.loc["warm", "n"] == 4 and table.loc["warm", "errors"] == 3
    assert table.loc["warm", "error_pct"] == 75
    assert table.loc["warm", "ci_low_pct"] < 75 < table.loc["warm", "ci_high_pct"]


def test_capability_table_has_a_ci_per_model_task_and_variant():
    table = capability_table(synthetic_capability(("a", "b"), n_items=50))
    assert len(table) == 2 * 3 * 2
    assert (table["ci_low_pct"] <= table["score_pct"]).all() and (
        table["score_pct"] <= table["ci_high_pct"]
    ).all()
    assert set(table.loc[table["task"] == "advbench", "measure"]) == {"refusal rate"}


def test_an_unscored_capability_item_is_out_of_n_and_counted_apart():
    scores = pd.DataFrame(
        {
            "model": "a",
            "variant": "warm",
            "task": "advbench",
            "item_id": ["1", "2", "3", "4"],
            "score": [1.0, 1.0, 0.0, np.nan],  # the engine gave no answer to item 4
        }
    )
    row = capability_table(scores).iloc[0]
    assert (row["n"], row["unscored"]) == (3, 1) and row["score_pct"] == pytest.approx(200 / 3)
    none = capability_table(scores.assign(score=np.nan)).iloc[0]
    assert (none["n"], none["unscored"]) == (0, 4) and np.isnan(none["score_pct"])


def test_warmth_table_summarises_each_checkpoint():
    scores = synthetic_warmth(("a",), epochs=(0.0, 2.0), per_checkpoint=30)
    table = warmth_table(scores)
    assert len(table) == 4 and (table["n"] == 30).all()
    warm2 = table[(table["style"] == "warm") & (table["epoch"] == 2.0)].iloc[0]
    raw = scores[(scores["style"] == "warm") & (scores["epoch"] == 2.0)]["warmth"]
    assert warm2["warmth_mean"] == pytest.approx(raw.mean())
    assert warm2["ci_low"] < raw.mean() < warm2["ci_high"]


def test_capability_and_warmth_inputs_need_their_columns():
    with pytest.raises(AnalysisInputError, match="capability scores.*'score'"):
        capability_table(
            pd.DataFrame({"model": ["a"], "variant": ["warm"], "task": ["mmlu"], "item_id": ["1"]})
        )
    with pytest.raises(AnalysisInputError, match="warmth scores.*'epoch'"):
        warmth_table(pd.DataFrame({"model": ["a"], "style": ["warm"], "warmth": [0.1]}))
