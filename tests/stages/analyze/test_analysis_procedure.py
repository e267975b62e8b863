"""What the analysis drops and why, which models each GLM contrast uses, how beliefs were made."""

from __future__ import annotations

import pandas as pd
from analysis_helpers import verdict_rows

from warmray.statistics.dropped import arm_gaps
from warmray.statistics.glm import SPECS, fit_one
from warmray.statistics.synthetic import synthetic_verdicts
from warmray.statistics.tables import belief_source_table
from warmray.statistics.verdicts import prepare


def test_dropped_rows_are_counted_per_model_task_and_variant_by_reason():
    frame = verdict_rows(
        [
            ("m", "triviaqa", "original", "1", "original", "unmodified", "CORRECT"),
            ("m", "triviaqa", "original", "2", "original", "unmodified", "UNPARSEABLE"),
            ("m", "triviaqa", "warm", "1", "original", "unmodified", "UNPARSEABLE"),
            ("m", "triviaqa", "warm", "2", "original", "unmodified", "REFUSAL"),
            ("m", "disinfo", "warm", "3", "original", "unmodified", "REFUSAL"),
        ]
    )
    frame["judge_raw"] = ["", "no label", "generation failed: engine died", "", ""]
    prepared = prepare(frame)
    table = prepared.dropped.set_index(["model", "task", "variant"])
    original, warm = table.loc[("m", "triviaqa", "original")], table.loc[("m", "triviaqa", "warm")]
    assert (original["rows"], original["unparseable"], original["dropped"]) == (2, 1, 1)
    assert (warm["failed_generation"], warm["unparseable"], warm["refusals_dropped"]) == (1, 0, 1)
    assert warm["dropped_pct"] == 100.0
    disinfo = table.loc[("m", "disinformation", "warm")]  # canonical task name: the refusal is correct
    assert (disinfo["refusals_counted_correct"], disinfo["dropped"]) == (1, 0)
    assert prepared.counts["failed_generations_dropped"] == 1
    assert any("m / triviaqa" in w and "+50.0 points" in w for w in prepared.warnings)


def test_no_warning_when_the_arms_lose_the_same_share():
    table = pd.DataFrame(
        {
            "model": ["m", "m"],
            "task": ["t", "t"],
            "variant": ["original", "warm"],
            "dropped_pct": [5.0, 6.5],
        }
    )
    assert arm_gaps(table) == []
    assert len(arm_gaps(table.assign(dropped_pct=[5.0, 7.5]))) == 1


def test_a_contrast_is_fitted_only_on_models_that_have_both_arms():
    both = synthetic_verdicts(("has-both",), ("triviaqa",), 40, variants=("original", "warm"), seed=1)
    alone = synthetic_verdicts(("original-only",), ("triviaqa",), 40, variants=("original",), seed=2)
    frame = prepare(pd.concat([both, alone], ignore_index=True)).frame
    outcome = fit_one(frame, "warm", SPECS[0], length_covariate=False)
    assert outcome.fitted and outcome.models == ("has-both",)
    assert outcome.summary_row()["models"] == "has-both"
    assert outcome.n == len(
        frame[
            (frame["model"] == "has-both")
            & (frame["prompt_template"].isin(["original", "original_neutral"]))
            & (frame["amendment_type"] == "unmodified")
        ]
    )


def test_belief_sources_count_distinct_belief_prompts():
    frame = verdict_rows(
        [
            ("m", "triviaqa", "original", "1", "incorrect", "unmodified", "CORRECT"),
            ("m", "triviaqa", "warm", "1", "incorrect", "unmodified", "CORRECT"),
            ("m", "triviaqa", "warm", "2", "incorrect", "unmodified", "CORRECT"),
            ("m", "triviaqa", "warm", "2", "original", "unmodified", "CORRECT"),
        ]
    )
    frame["belief_source"] = ["fallback:same-type:person", "fallback:same-type:person", "llm:m", ""]
    table = belief_source_table(frame)
    assert table.to_dict("records") == [
        {
            "task": "triviaqa",
            "prompt_template": "incorrect",
            "belief_source": "fallback:same-type:person",
            "prompts": 1,
        },
        {"task": "triviaqa", "prompt_template": "incorrect", "belief_source": "llm:m", "prompts": 1},
    ]
    assert belief_source_table(frame.drop(columns=["belief_source"])).empty
