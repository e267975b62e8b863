from __future__ import annotations

import numpy as np
import pytest
from analysis_helpers import verdict_rows
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import fdrcorrection, multipletests

from warmray.statistics.paired import (
    STAT_COLUMNS,
    STAT_DESCRIPTIONS,
    STUDY_COLUMNS,
    TEMPLATE_COLUMNS,
    Stat,
    bh_fdr,
    cohens_g,
    g_authors,
    mcnemar_exact,
    paired_cells,
    paired_odds_ratio,
    template_cells,
    untestable_cells,
)
from warmray.statistics.verdicts import prepare


@pytest.mark.parametrize("b,c", [(0, 1), (1, 0), (3, 3), (7, 2), (2, 7), (0, 25), (40, 61), (250, 180)])
def test_exact_mcnemar_matches_statsmodels(b, c):
    expected = mcnemar(np.array([[10, b], [c, 10]]), exact=True).pvalue
    assert mcnemar_exact(np.array([b]), np.array([c]))[0] == pytest.approx(expected, rel=1e-10)


def test_benjamini_hochberg_matches_statsmodels_including_ties():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(0, 0.05, 30), rng.uniform(0, 1, 170), [0.01, 0.01, 1.0, 1.0]])
    rng.shuffle(p)
    expected = multipletests(p, method="fdr_bh")[1]
    np.testing.assert_allclose(bh_fdr(p), expected, rtol=1e-12)


def test_benjamini_hochberg_leaves_missing_p_values_missing():
    q = bh_fdr(np.array([0.01, np.nan, 0.04]))
    assert np.isnan(q[1])
    np.testing.assert_allclose(q[[0, 2]], multipletests([0.01, 0.04], method="fdr_bh")[1])


def test_cohens_g_and_paired_odds_ratio_on_known_counts():
    g = cohens_g(np.array([30, 10, 5, 0]), np.array([10, 30, 5, 0]))
    np.testing.assert_allclose(g[:3], [0.25, 0.25, 0.0])
    assert np.isnan(g[3])
    ratio = paired_odds_ratio(np.array([30, 4, 3, 0]), np.array([10, 0, 3, 0]))
    assert ratio[0] == 3.0 and np.isinf(ratio[1]) and ratio[2] == 1.0 and np.isnan(ratio[3])


def test_cells_pair_the_same_prompt_across_variants_and_count_discordance():
    rows = []
    # 6 items: 3 where only warm errs (b), 1 where only original errs (c), 2 concordant.
    outcomes = [("CORRECT", "INCORRECT")] * 3 + [("INCORRECT", "CORRECT")] + [("CORRECT", "CORRECT")] * 2
    for i, (orig, warm) in enumerate(outcomes):
        rows.append(("m", "triviaqa", "original", f"q{i}", "original", "emotion:sad", orig))
        rows.append(("m", "triviaqa", "warm", f"q{i}", "original", "emotion:sad", warm))
    rows.append(("m", "triviaqa", "warm", "unpaired", "original", "emotion:sad", "INCORRECT"))
    rows.append(
        ("m", "triviaqa", "original", "q0", "incorrect", "emotion:sad", "CORRECT")
    )  # other cell, no pair
    cells = template_cells(prepare(verdict_rows(rows)).frame, ["warm"])
    assert len(cells) == 1
    cell = cells.iloc[0]
    assert (cell["n_pairs"], cell["b_variant_only"], cell["c_original_only"]) == (6, 3, 1)
    assert cell["error_original_pct"] == pytest.approx(100 / 6)
    assert cell["error_variant_pct"] == pytest.approx(50)
    assert cell["error_diff_pp"] == pytest.approx(50 - 100 / 6)
    assert cell["odds_ratio"] == 3.0 and cell["cohens_g"] == pytest.approx(0.25)
    assert cell["mcnemar_p"] == pytest.approx(mcnemar([[2, 3], [1, 0]], exact=True).pvalue)


def test_fdr_is_applied_within_each_comparison(demo_verdicts):
    from warmray.statistics.synthetic import synthetic_verdicts

    frame = synthetic_verdicts(("m",), ("demo",), 40, variants=("original", "warm", "cold"), seed=5)
    cells = template_cells(prepare(frame).frame, ["warm", "cold"], alpha=0.05)
    assert set(cells["comparison"]) == {"warm", "cold"}
    for _, group in cells.groupby("comparison"):
        np.testing.assert_allclose(group["q_value"], multipletests(group["mcnemar_p"], method="fdr_bh")[1])
        assert (group["significant"] == (group["q_value"] < 0.05)).all()


def test_study_cells_are_9_context_and_9_belief_cells_per_model_task_and_variant():
    from warmray.statistics.synthetic import synthetic_verdicts

    frame = synthetic_verdicts(("m1", "m2"), ("triviaqa", "medqa"), 30, variants=("original", "warm", "cold"))
    cells = paired_cells(prepare(frame).frame, ["warm", "cold"])
    assert list(cells.columns) == STUDY_COLUMNS
    per = cells.groupby(["model", "task", "variant", "test_type"]).size()
    assert set(per.to_numpy()) == {9} and len(per) == 2 * 2 * 2 * 2
    # 30 items per cell; the belief cells pool two templates, so twice the pairs
    assert set(cells.loc[cells["test_type"] == "context", "n_pairs"]) == {30}
    assert set(cells.loc[cells["test_type"] == "belief", "n_pairs"]) == {60}
    assert cells["amendment_type"].iloc[0] == "unmodified"


def test_study_cells_match_statsmodels_mcnemar_and_fdr_per_family():
    from warmray.statistics.synthetic import synthetic_verdicts

    frame = prepare(synthetic_verdicts(("m1", "m2"), ("triviaqa", "truthfulqa"), 40, seed=11)).frame
    cells = paired_cells(frame, ["warm"])
    original, warm = frame[frame["variant"] == "original"], frame[frame["variant"] == "warm"]
    key = ["model", "task", "item_id", "prompt_template", "amendment_type"]
    pairs = original[[*key, "is_incorrect"]].merge(
        warm[[*key, "is_incorrect"]], on=key, suffixes=("_o", "_w")
    )
    for (model, task, test_type), family in cells.groupby(["model", "task", "test_type"]):
        templates = ["original"] if test_type == "context" else ["incorrect", "correct"]
        expected_p = []
        for row in family.itertuples():
            mine = pairs[
                (pairs["model"] == model)
                & (pairs["task"] == task)
                & (pairs["amendment_type"] == row.amendment_type)
                & pairs["prompt_template"].isin(templates)
            ]
            yo, yw = mine["is_incorrect_o"].to_numpy(), mine["is_incorrect_w"].to_numpy()
            table = [
                [((yo == 0) & (yw == 0)).sum(), ((yo == 0) & (yw == 1)).sum()],
                [((yo == 1) & (yw == 0)).sum(), ((yo == 1) & (yw == 1)).sum()],
            ]
            assert (row.b_variant_only, row.c_original_only) == (table[0][1], table[1][0])
            assert row.n_pairs == len(mine)
            assert row.error_diff_pp == pytest.approx(100 * (yw.mean() - yo.mean()))  # warm minus original
            untestable = table[0][1] + table[1][0] == 0
            expected_p.append(np.nan if untestable else mcnemar(np.array(table), exact=True).pvalue)
        np.testing.assert_allclose(family["mcnemar_p"], expected_p, rtol=1e-10)
        expected_q = np.full(len(expected_p), np.nan)
        tested = ~np.isnan(expected_p)
        expected_q[tested] = fdrcorrection(np.array(expected_p)[tested])[1]
        np.testing.assert_allclose(family["q_value"], expected_q, rtol=1e-10)
        assert (family["significant"] == (family["q_value"] < 0.05)).all()


def test_g_authors_is_the_absolute_difference_over_the_root_of_discordant_pairs():
    np.testing.assert_allclose(
        g_authors(np.array([30, 10, 5]), np.array([10, 30, 5])), [20 / np.sqrt(40), 20 / np.sqrt(40), 0.0]
    )
    assert np.isnan(g_authors(np.array([0]), np.array([0]))[0])


def test_a_cell_where_no_pair_differs_has_no_p_value():
    assert np.isnan(mcnemar_exact(np.array([0]), np.array([0]))[0])


def _cells_with_one_untestable() -> list[tuple]:
    """Context cells of one model x task: `unmodified` with 3 pairs only warm got wrong, `emotion:sad`
    with every pair concordant (b = c = 0), `stake:high` with 1 pair only warm got wrong."""
    rows = []
    for context, outcomes in (
        ("unmodified", [("CORRECT", "INCORRECT")] * 3 + [("CORRECT", "CORRECT")]),
        ("emotion:sad", [("CORRECT", "CORRECT"), ("INCORRECT", "INCORRECT")]),
        ("stake:high", [("CORRECT", "INCORRECT")] + [("CORRECT", "CORRECT")] * 3),
    ):
        for i, (orig, warm) in enumerate(outcomes):
            rows.append(("m", "triviaqa", "original", f"q{i}", "original", context, orig))
            rows.append(("m", "triviaqa", "warm", f"q{i}", "original", context, warm))
    return rows


def test_untestable_cells_are_left_out_of_the_bh_family():
    cells = paired_cells(prepare(verdict_rows(_cells_with_one_untestable())).frame, ["warm"])
    by = cells.set_index("amendment_type")
    assert np.isnan(by.loc["emotion:sad", "mcnemar_p"]) and np.isnan(by.loc["emotion:sad", "q_value"])
    assert not by.loc["emotion:sad", "significant"]
    tested = by.loc[["unmodified", "stake:high"], "mcnemar_p"].to_numpy()
    np.testing.assert_allclose(by.loc[["unmodified", "stake:high"], "q_value"], fdrcorrection(tested)[1])
    # with p = 1 counted in, the family would be 3 tests and the smallest q would be 3/2 x its p, not 2/2
    assert by.loc["unmodified", "q_value"] == pytest.approx(by.loc["unmodified", "mcnemar_p"] * 2 / 1)
    assert untestable_cells(cells).tolist() == [False, True, False]


def test_template_cells_leave_untestable_cells_without_a_q_value():
    cells = template_cells(prepare(verdict_rows(_cells_with_one_untestable())).frame, ["warm"])
    sad = cells[cells["amendment_type"] == "emotion:sad"].iloc[0]
    assert np.isnan(sad["mcnemar_p"]) and np.isnan(sad["q_value"]) and not sad["significant"]
    assert int(untestable_cells(cells).sum()) == 1


def test_cell_summary_counts_untestable_cells_and_shares_over_testable_ones():
    from warmray.report.study_sections import cell_summary

    cells = paired_cells(prepare(verdict_rows(_cells_with_one_untestable())).frame, ["warm"])
    cells.loc[cells["amendment_type"] == "unmodified", "significant"] = True  # one of 2 testable
    line = cell_summary(cells, "warm", 0.05)
    assert "1 untestable" in line
    assert "33% of all cells, 50% of the 2 testable" in line


def test_both_tables_give_an_error_increase_the_same_positive_sign_and_the_same_statistics():
    # warm errs on 3 of 4 prompts the original answers right, and on none the original gets wrong.
    outcomes = [("CORRECT", "INCORRECT")] * 3 + [("CORRECT", "CORRECT")]
    rows = []
    for i, (orig, warm) in enumerate(outcomes):
        rows.append(("m", "triviaqa", "original", f"q{i}", "original", "unmodified", orig))
        rows.append(("m", "triviaqa", "warm", f"q{i}", "original", "unmodified", warm))
    frame = prepare(verdict_rows(rows)).frame
    study = paired_cells(frame, ["warm"]).iloc[0]
    by_template = template_cells(frame, ["warm"]).iloc[0]
    assert study["error_diff_pp"] == by_template["error_diff_pp"] == pytest.approx(75.0)
    assert list(STUDY_COLUMNS[-len(STAT_COLUMNS) :]) == list(TEMPLATE_COLUMNS[-len(STAT_COLUMNS) :])
    for column in STAT_COLUMNS:
        assert study[column] == pytest.approx(by_template[column], nan_ok=True), column
    assert "positive: the variant errs more" in STAT_DESCRIPTIONS[Stat.ERROR_DIFF_PP]
