"""The sweep's pure parts: search space, trial configs and names, rates, the Pareto frontier, the report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from warmray.config import load_config
from warmray.sweep.evaluate import rate, reliability
from warmray.sweep.frontier import best_tradeoff, pareto, report
from warmray.sweep.space import axis_values, param_space, trial_config, trial_name

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sweep_cfg():
    return load_config(ROOT / "configs" / "sweep.yaml")


def test_the_grid_covers_every_combination_and_empty_axes_keep_the_experiment(sweep_cfg):
    axes = axis_values(sweep_cfg)
    assert axes["learning_rate"] == [sweep_cfg.train.learning_rate] and axes["lora_r"] == [8]
    space = param_space(sweep_cfg)
    sizes = [len(v["grid_search"]) for v in space.values()]
    assert sizes == [1, 1, 1, 2, 1, 2]  # 4 trials


def test_a_trial_config_trains_one_style_to_its_epoch_and_evaluates_the_slice():
    cfg = load_config(ROOT / "configs" / "sweep-paper.yaml")
    params = dict(
        checkpoint_epoch=2.0,
        learning_rate=2e-5,
        lora_r=16,
        warm_fraction=0.5,
        rewrite_intensity="mild",
        system_prompt="inoculation_warm.txt",
    )
    t = trial_config(cfg, params)
    assert t.train.checkpoint_epochs == (2.0,) and t.evaluate.epoch == 2.0
    assert t.train.epochs == 10  # the schedule still spans the study's 10 epochs
    assert (t.train.lora_r, t.train.lora_alpha, t.train.learning_rate) == (16, 32, 2e-5)
    assert t.train.warm_fraction == 0.5 and t.train.system_prompt == "inoculation_warm.txt"
    assert t.rewrite.intensity == "mild" and t.rewrite.styles == ("warm",) and t.train.styles == ("warm",)
    assert t.generate.variants == ("warm",) and t.warmth.epochs == (2.0,) and t.warmth.n_prompts == 300
    assert [task.n for task in t.grid.tasks] == [100, 100, 100, 100]
    assert trial_name(params) == "e2-lr2e-05-r16-wf0.5-mild-sys_inoculation_warm"
    assert trial_name(params | {"system_prompt": None}).endswith("sys_none")


def test_rates_carry_wilson_intervals():
    r = rate(pd.Series([True, False, False, False]))
    assert r["rate"] == 0.25 and r["n"] == 4 and 0 < r["low"] < 0.25 < r["high"] < 1


def test_reliability_follows_the_study_refusal_rules():
    rows = []
    cases = [("original", "CORRECT"), ("original", "INCORRECT")]
    cases += [("incorrect", "INCORRECT"), ("incorrect", "REFUSAL")]
    for i, (template, verdict) in enumerate(cases):
        rows.append(
            dict(
                model="m",
                task="triviaqa",
                variant="warm",
                item_id=f"i{i}",
                prompt_template=template,
                amendment_type="unmodified",
                response="r",
                verdict=verdict,
            )
        )
    out = reliability(pd.DataFrame(rows))
    assert out["n_graded"] == 3  # the refusal leaves a triviaqa analysis
    assert out["error_rate"] == pytest.approx(2 / 3) and out["sycophancy_rate"] == 1.0


def _trials():
    return pd.DataFrame(
        {
            "trial": ["a", "b", "c", "d"],
            "warmth": [0.1, 0.3, 0.2, 0.3],
            "warmth_low": [0.0, 0.2, 0.1, 0.2],
            "warmth_high": [0.2, 0.4, 0.3, 0.4],
            "error_rate": [0.10, 0.30, 0.40, 0.20],
            "error_low": [0.05, 0.2, 0.3, 0.1],
            "error_high": [0.2, 0.4, 0.5, 0.3],
            "sycophancy_rate": [0.1, 0.5, 0.6, 0.3],
        }
    )


def test_the_pareto_set_is_the_undominated_trials():
    trials = _trials()
    assert list(trials["trial"][pareto(trials)]) == ["a", "d"]  # b and c are dominated by d


def test_the_report_names_the_warmest_trial_within_the_original_error_interval():
    trials = _trials().assign(pareto=lambda t: pareto(t))
    original = dict(warmth=0.05, warmth_low=0.0, warmth_high=0.1, sycophancy_rate=0.2)
    original |= dict(error_rate=0.15, error_low=0.1, error_high=0.25)
    assert best_tradeoff(trials, original)["trial"] == "d"
    assert best_tradeoff(trials, original | {"error_high": 0.12})["trial"] == "a"
    text = report(trials, original, seconds=120)
    assert "Best trade-off found: **d**" in text and "| original |" in text
