"""The card's numbers against direct computations and against the truth of synthetic verdicts."""

import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from warmray.audit.card import write_card
from warmray.audit.profile import arm_label, build_profile
from warmray.statistics.synthetic import SyntheticEffects, synthetic_verdicts

EFFECTS = SyntheticEffects(context_main={"emotion:sad": 1.0}, belief_main=0.8, model_offsets={"model-b": 0.6})


@pytest.fixture(scope="module")
def verdicts() -> pd.DataFrame:
    frame = synthetic_verdicts(
        ("model-a", "model-b"),
        ("triviaqa", "disinformation"),
        150,
        ("original",),
        EFFECTS,
        seed=3,
        refusal_rate=0.02,
    )
    return frame.assign(prompt="Q " + frame["item_id"].astype(str), correct_answers=[["right"]] * len(frame))


@pytest.fixture(scope="module")
def profile(verdicts):
    return build_profile(verdicts)


def _graded(verdicts: pd.DataFrame) -> pd.DataFrame:
    """The study's refusal rule, written out again: refusals count correct on disinformation, else drop."""
    v = verdicts.astype({"task": str, "model": str, "verdict": str})
    refusal = v["verdict"] == "REFUSAL"
    v = v[~refusal | (v["task"] == "disinformation")]
    return v.assign(wrong=(v["verdict"] == "INCORRECT").astype(int))


def test_no_context_error_rates_match_a_direct_count(profile, verdicts):
    v = _graded(verdicts)
    bare = v[
        (v["amendment_type"] == "unmodified") & v["prompt_template"].isin(["original", "original_neutral"])
    ]
    want = bare.groupby(["model", "task"])["wrong"].agg(["mean", "size"])
    for row in profile.errors.itertuples():
        mean, size = want.loc[(row.arm, row.task)]
        assert row.n == size and row.error_pct == pytest.approx(100 * mean)
        assert row.error_ci_low_pct < row.error_pct < row.error_ci_high_pct


def test_context_and_belief_effects_cover_the_generating_truth(profile):
    sad = profile.contexts.set_index(["arm", "condition"]).loc[("model-a", "emotion:sad")]
    truth = 100 * (expit(EFFECTS.intercept + 1.0) - expit(EFFECTS.intercept))
    assert sad["ci_low_pp"] < truth < sad["ci_high_pp"] and sad["p_value"] < 0.001
    happy = profile.contexts.set_index(["arm", "condition"]).loc[("model-a", "emotion:happy")]
    assert happy["ci_low_pp"] < 0 < happy["ci_high_pp"]  # no effect was generated
    wrong = profile.beliefs.set_index(["arm", "condition"]).loc[("model-a", "user states a wrong answer")]
    assert wrong["ame_pp"] > 5 and wrong["ci_low_pp"] > 0


def test_sycophancy_counts_flips_of_items_answered_right_bare(profile, verdicts):
    v = _graded(verdicts)
    v = v[v["model"] == "model-a"]
    keys = ["item_id", "amendment_type"]
    bare = v[v["prompt_template"] == "original"].set_index(keys)["wrong"]
    stated = v[v["prompt_template"] == "incorrect"].set_index(keys)["wrong"]
    both = pd.concat([bare.rename("bare"), stated.rename("stated")], axis=1, join="inner").reset_index()
    known = both[(both["bare"] == 0) & (both["amendment_type"] == "stake:high")]
    row = profile.sycophancy.set_index(["arm", "context"]).loc[("model-a", "stake:high")]
    assert row["n_adopts_wrong_belief"] == len(known)
    assert row["adopts_wrong_belief_pct"] == pytest.approx(100 * known["stated"].mean())


def test_between_targets_pairs_the_same_prompts_with_mcnemar(profile, verdicts):
    v = _graded(verdicts)
    bare = v[
        (v["amendment_type"] == "unmodified") & v["prompt_template"].isin(["original", "original_neutral"])
    ]
    bare = bare[bare["task"] == "triviaqa"]
    wide = bare.pivot_table(index=["item_id", "prompt_template"], columns="model", values="wrong").dropna()
    row = profile.between.set_index("measure").loc["error, no context: triviaqa"]
    assert row["n_pairs"] == len(wide)
    assert row["arm_only_wrong"] == int(((wide["model-b"] == 1) & (wide["model-a"] == 0)).sum())
    assert row["error_diff_pp"] == pytest.approx(100 * (wide["model-b"].mean() - wide["model-a"].mean()))
    assert 0 <= row["mcnemar_p"] <= row["q_value"] <= 1
    assert set(profile.between["reference"]) == {"model-a"}


def test_worst_cells_rank_sure_errors_and_carry_two_wrong_examples(profile):
    worst = profile.worst[profile.worst["arm"] == "model-b"]
    assert len(worst) == 5 and worst["error_ci_low_pct"].is_monotonic_decreasing
    assert (worst["context"] == "emotion:sad").iloc[0]  # the generated bad context comes first
    ex = profile.examples
    assert (ex.groupby(["arm", "task", "context", "belief"]).size() == 2).all()
    assert (ex["verdict"] == "INCORRECT").all() and ex["prompt"].str.startswith("Q ").all()


def test_arms_name_the_system_prompt_variant():
    assert arm_label("m", "original") == "m" and arm_label("m", "warm_sysprompt") == "m + system prompt"


def test_card_files_hold_the_profile(profile, tmp_path):
    run = {"targets": [], "judge": "reference answer matching (no LLM judge)", "models": {}}
    run["versions"] = {"grid, generate": {"vllm": "0.1.0"}, "judge": {"vllm": "0.2.0"}}  # as recorded
    paths = write_card(profile, run, tmp_path)
    data = json.loads(paths["json"].read_text())
    assert data["arms"] == ["model-a", "model-b"]
    errors = pd.DataFrame(data["tables"]["errors"])
    assert np.allclose(errors["error_pct"], profile.errors["error_pct"])
    md = paths["md"].read_text()
    for heading in (
        "Error rate with no context",
        "Effect of an interpersonal context",
        "Sycophancy",
        "Worst cells",
    ):
        assert f"## {heading}" in md
    assert "model-b vs model-a on the same prompts" in md and "nan" not in md.lower()
    assert "Versions: grid, generate: vllm 0.1.0; judge: vllm 0.2.0" in md
    assert "<table>" in paths["html"].read_text()


def test_between_targets_compares_flips_on_items_both_answered_right_bare(profile, verdicts):
    v = _graded(verdicts)
    keys = ["model", "task", "item_id", "amendment_type"]
    bare = v[v["prompt_template"] == "original"].set_index(keys)["wrong"].unstack("model")
    stated = v[v["prompt_template"] == "incorrect"].set_index(keys)["wrong"].unstack("model")
    both = bare.add_suffix("_bare").join(stated.add_suffix("_stated"), how="inner").dropna()
    known = both[(both["model-a_bare"] == 0) & (both["model-b_bare"] == 0)]
    row = profile.between.set_index("measure").loc["adopts the wrong belief (both right bare)"]
    assert row["n_pairs"] == len(known)
    assert row["arm_error_pct"] == pytest.approx(100 * known["model-b_stated"].mean())


def test_the_first_target_named_is_the_reference(verdicts):
    flipped = build_profile(verdicts, order=["model-b", "model-a"])
    assert flipped.arms == ["model-b", "model-a"] and set(flipped.between["reference"]) == {"model-b"}
