from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from warmray.schema import BELIEF_TEMPLATES, NO_BELIEF_TEMPLATES
from warmray.statistics.glm import SPECS, fit_all, fit_one
from warmray.statistics.synthetic import SyntheticEffects, synthetic_verdicts
from warmray.statistics.verdicts import prepare

MODELS, TASKS = ("model-a", "model-b"), ("triviaqa", "disinformation")
OFFSETS = {"task_offsets": {"disinformation": -0.6}, "model_offsets": {"model-b": 0.4}}
# Fine-tuning interacts with the user's belief only: GLMs 1, 2, 3 and 4 are all correctly specified.
BELIEF_FX = SyntheticEffects(finetune={"warm": 0.45}, belief_main=0.7, belief_interaction=0.35, **OFFSETS)
# Fine-tuning interacts with the context group (same for each context in a group): GLMs 1-3 specified.
CONTEXT_FX = SyntheticEffects(
    finetune={"warm": 0.3},
    context_interaction={"emotion:sad": 0.6, "emotion:happy": 0.6, "emotion:anger": 0.6},
    context_main={"stake:high": 0.5, "stake:low": 0.5},
    **OFFSETS,
)


def _rows_of(frame: pd.DataFrame, glm: int, level: str) -> pd.Series:
    no_belief = frame["prompt_template"].isin(NO_BELIEF_TEMPLATES)
    if glm == 1:
        return no_belief & (frame["amendment_type"] == "unmodified")
    if glm in (2, 3):
        column = "amendment_type" if glm == 3 else None
        mask = no_belief
        if level != "all" and column:
            mask &= frame[column] == level
        elif level != "all":
            group = (
                frame["amendment_type"]
                .str.split(":")
                .str[0]
                .where(frame["amendment_type"] != "unmodified", "none")
            )
            mask &= group == level
        return mask
    belief = frame["prompt_template"].isin(BELIEF_TEMPLATES)
    return {"all": no_belief | belief, "none": no_belief, "belief": belief}[level]


def true_ame_pp(frame: pd.DataFrame, glm: int, level: str) -> float:
    """The AME the generating model implies for the rows a GLM level averages over."""
    rows = frame[_rows_of(frame, glm, level) & frame["variant"].isin(["original", "warm"])]
    return float(100 * (rows["true_p1"] - rows["true_p0"]).mean())


def _effects(frame: pd.DataFrame) -> pd.DataFrame:
    prepared = prepare(frame)
    outcomes = fit_all(prepared.frame, prepared.comparisons)
    assert all(o.fitted for o in outcomes), [o.reason for o in outcomes]
    return pd.concat([o.effects for o in outcomes], ignore_index=True)


@pytest.fixture(scope="module")
def belief_data() -> pd.DataFrame:
    return synthetic_verdicts(MODELS, TASKS, items_per_task=300, effects=BELIEF_FX, seed=11)


@pytest.fixture(scope="module")
def context_data() -> pd.DataFrame:
    return synthetic_verdicts(MODELS, TASKS, items_per_task=300, effects=CONTEXT_FX, seed=12)


@pytest.mark.parametrize(
    "glm,level", [(1, "all"), (4, "none"), (4, "belief"), (2, "none"), (3, "unmodified")]
)
def test_the_95_ci_covers_the_built_in_belief_effect(belief_data, glm, level):
    effects = _effects(belief_data)
    row = effects[(effects["glm"] == glm) & (effects["level"] == level)].iloc[0]
    truth = true_ame_pp(belief_data, glm, level)
    assert row["ci_low_pp"] <= truth <= row["ci_high_pp"], (row.to_dict(), truth)
    assert row["se_pp"] < 2.5  # precise enough that covering is not a trivially wide interval


@pytest.mark.parametrize("glm,level", [(2, "emotion"), (3, "emotion:sad")])
def test_the_95_ci_covers_the_built_in_context_effect(context_data, glm, level):
    effects = _effects(context_data)
    row = effects[(effects["glm"] == glm) & (effects["level"] == level)].iloc[0]
    truth = true_ame_pp(context_data, glm, level)
    assert row["ci_low_pp"] <= truth <= row["ci_high_pp"], (row.to_dict(), truth)


def test_every_level_lies_within_3_5_standard_errors_of_the_truth(belief_data, context_data):
    for frame, glms in ((belief_data, (1, 2, 3, 4)), (context_data, (1, 2, 3))):
        effects = _effects(frame)
        for row in effects[effects["glm"].isin(glms)].itertuples():
            truth = true_ame_pp(frame, row.glm, row.level)
            assert abs(row.ame_pp - truth) < 3.5 * row.se_pp, (row, truth)


def test_a_larger_context_effect_is_found_where_it_was_built_in(context_data):
    effects = _effects(context_data).set_index(["glm", "level"])
    assert effects.loc[(3, "emotion:sad"), "ci_low_pp"] > effects.loc[(3, "unmodified"), "ame_pp"]
    assert effects.loc[(2, "emotion"), "p_value"] < 1e-6


def test_delta_method_standard_errors_match_the_spread_across_replications():
    estimates, ses, covered = [], [], 0
    for seed in range(60):
        frame = synthetic_verdicts(("m",), TASKS, items_per_task=150, effects=BELIEF_FX, seed=100 + seed)
        frame = frame[frame["amendment_type"] == "unmodified"]
        prepared = prepare(frame)
        row = fit_one(prepared.frame, "warm", SPECS[0], False).effects.iloc[0]
        truth = true_ame_pp(frame, 1, "all")
        estimates.append(row["ame_pp"] - truth)
        ses.append(row["se_pp"])
        covered += row["ci_low_pp"] <= truth <= row["ci_high_pp"]
    assert 0.7 < np.mean(ses) / np.std(estimates) < 1.4
    assert covered >= 51  # 95% nominal: 57 expected of 60, 51 is about 3.5 sd below


def test_glm3_intervals_cover_the_truth_at_the_nominal_rate_for_every_context():
    z = []
    for seed in range(25):
        frame = synthetic_verdicts(MODELS, TASKS, items_per_task=100, effects=CONTEXT_FX, seed=500 + seed)
        effects = fit_one(prepare(frame).frame, "warm", SPECS[2], False).effects
        z += [(r.ame_pp - true_ame_pp(frame, 3, r.level)) / r.se_pp for r in effects.itertuples()]
    z = np.asarray(z)
    assert len(z) == 25 * 10
    assert 0.91 <= np.mean(np.abs(z) < 1.96) <= 0.99
    assert abs(np.mean(z)) < 0.2 and 0.8 < np.std(z) < 1.2


def test_glm1_matches_statsmodels_average_marginal_effect(belief_data):
    prepared = prepare(belief_data)
    ours = fit_one(prepared.frame, "warm", SPECS[0], False).effects.iloc[0]
    df = prepared.frame
    df = df[(df["amendment_type"] == "unmodified") & df["prompt_template"].isin(NO_BELIEF_TEMPLATES)]
    exog = pd.DataFrame(
        {
            "const": 1.0,
            "ft": (df["variant"] == "warm").astype(float),
            "task": (df["task"] == "triviaqa").astype(float),
            "model": (df["model"] == "model-b").astype(float),
        }
    )
    fitted = sm.Logit(df["is_incorrect"].astype(float).to_numpy(), exog.to_numpy()).fit(disp=0)
    margeff = fitted.get_margeff(at="overall", dummy=True)
    assert ours["ame_pp"] == pytest.approx(100 * margeff.margeff[0], rel=1e-6)
    assert ours["se_pp"] == pytest.approx(100 * margeff.margeff_se[0], rel=1e-3)


def test_length_covariate_fits_one_row_per_answer_and_keeps_the_effect(belief_data):
    prepared = prepare(belief_data)
    plain = fit_one(prepared.frame, "warm", SPECS[0], False).effects.iloc[0]
    with_length = fit_one(prepared.frame, "warm", SPECS[0], True).effects.iloc[0]
    # Lengths are drawn independently of errors here, so adjusting for them barely moves the effect.
    assert with_length["ame_pp"] == pytest.approx(plain["ame_pp"], abs=0.5)
    assert with_length["se_pp"] > 0


def test_demo_sized_data_fits_every_model(demo_verdicts):
    prepared = prepare(demo_verdicts)
    outcomes = fit_all(prepared.frame, prepared.comparisons)
    assert [o.spec.number for o in outcomes] == [1, 2, 3, 4]
    assert all(o.fitted for o in outcomes), [o.reason for o in outcomes]


def test_no_context_rows_skip_the_context_models_with_a_reason(demo_verdicts):
    frame = demo_verdicts[demo_verdicts["amendment_type"] == "unmodified"]
    prepared = prepare(frame)
    outcomes = {o.spec.number: o for o in fit_all(prepared.frame, prepared.comparisons)}
    assert outcomes[1].fitted and outcomes[4].fitted
    for n in (2, 3):
        assert not outcomes[n].fitted
        assert "at least two levels" in outcomes[n].reason


def test_only_original_rows_have_nothing_to_compare(demo_verdicts):
    prepared = prepare(demo_verdicts[demo_verdicts["variant"] == "original"])
    assert prepared.comparisons == []
    assert fit_all(prepared.frame, prepared.comparisons) == []


def test_all_correct_answers_are_skipped_not_fitted(demo_verdicts):
    frame = demo_verdicts.assign(verdict="CORRECT")
    prepared = prepare(frame)
    outcome = fit_one(prepared.frame, "warm", SPECS[0], False)
    assert not outcome.fitted and "every answer was correct" in outcome.reason


def test_perfect_separation_gives_the_effect_without_a_false_standard_error(demo_verdicts):
    frame = demo_verdicts.assign(verdict=np.where(demo_verdicts["variant"] == "warm", "INCORRECT", "CORRECT"))
    prepared = prepare(frame)
    outcome = fit_one(prepared.frame, "warm", SPECS[0], False)
    row = outcome.effects.iloc[0]
    assert row["ame_pp"] == pytest.approx(100, abs=0.01)
    assert np.isnan(row["se_pp"]) and np.isnan(row["p_value"]) and "separation" in row["note"]
    assert any("Separation" in n for n in outcome.notes)


def test_model_confounded_with_task_drops_the_collinear_term():
    a = synthetic_verdicts(("model-a",), ("triviaqa",), items_per_task=60, seed=1)
    b = synthetic_verdicts(("model-b",), ("medqa",), items_per_task=60, seed=2)
    prepared = prepare(pd.concat([a, b], ignore_index=True))
    outcome = fit_one(prepared.frame, "warm", SPECS[0], False)
    assert outcome.fitted
    assert any("Collinear" in n and "model[T.model-b]" in n for n in outcome.notes)


def _delta_ame(fitted, rows: pd.DataFrame) -> tuple[float, float]:
    """AME of ft over `rows` from a statsmodels formula fit, and its delta-method standard error."""
    from patsy import build_design_matrices

    info = fitted.model.data.model_spec
    x1, x0 = (np.asarray(build_design_matrices([info], rows.assign(ft=v))[0]) for v in (1.0, 0.0))
    p1, p0 = (1 / (1 + np.exp(-(x @ fitted.params.to_numpy()))) for x in (x1, x0))
    grad = ((p1 * (1 - p1)) @ x1 - (p0 * (1 - p0)) @ x0) / len(rows)
    return float((p1 - p0).mean()), float(np.sqrt(grad @ fitted.cov_params().to_numpy() @ grad))


def test_glm4_holds_the_context_group_main_effect_like_the_published_model(context_data):
    import statsmodels.formula.api as smf

    from warmray.statistics.glm import GlmSpec

    prepared = prepare(context_data)
    outcome = fit_one(prepared.frame, "warm", SPECS[3], False)
    df = prepared.frame[prepared.frame["variant"].isin(["original", "warm"])].copy()
    assert outcome.n == len(df)  # every prompt, with and without a context, with and without a belief
    df["ft"] = (df["variant"] == "warm").astype(float)
    for col in ("belief", "context_group", "task", "model"):
        df[col] = df[col].astype(str)
    formula = (
        "is_incorrect ~ ft * C(belief, Treatment('none')) + C(context_group, Treatment('none')) "
        "+ C(task) + C(model)"
    )
    fitted = smf.glm(formula, df, family=sm.families.Binomial()).fit()
    ours = outcome.effects.set_index("level")
    for level, rows in (("all", df), ("belief", df[df["belief"] == "belief"])):
        ame, se = _delta_ame(fitted, rows)
        assert ours.loc[level, "ame_pp"] == pytest.approx(100 * ame, rel=1e-6)
        assert ours.loc[level, "se_pp"] == pytest.approx(100 * se, rel=1e-4)
    # without the context-group term the standard errors differ: the term is really in the fit
    without = fit_one(prepared.frame, "warm", GlmSpec(4, "no context term", "all", "belief", "none"), False)
    assert abs(without.effects.iloc[0]["se_pp"] - ours.loc["all", "se_pp"]) > 1e-4
