"""`warmray compare`: two run directories, table by table on stable ids, and effect sizes side by side."""

import pandas as pd
import pytest
from manifest_helpers import finish_stage

from warmray.cli import main
from warmray.compare import CompareError, compare_runs, compare_tables, format_report


def verdicts(texts: dict[str, str], verdict: str = "CORRECT") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "response_id": list(texts),
            "response": list(texts.values()),
            "verdict": verdict,
            "correct_answers": [["paris", "Paris"]] * len(texts),
            "loss": 0.5,
        }
    )


def make_run(root, rows: pd.DataFrame, effects: pd.DataFrame | None = None, note: str = ""):
    (root / "judge" / "verdicts").mkdir(parents=True)
    rows.to_parquet(root / "judge" / "verdicts" / "m.parquet")
    finish_stage(root / "judge", nondeterministic=note)
    if effects is not None:
        (root / "analyze" / "tables").mkdir(parents=True)
        finish_stage(root / "analyze")
        effects.to_csv(root / "analyze" / "tables" / "glm_effects.csv", index=False)
    return root


def effects(ame: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "comparison": ["warm"],
            "glm": [1],
            "factor": ["finetuned"],
            "level": ["all"],
            "ame_pp": [ame],
            "p_value": [0.5],
        }
    )


def test_rows_are_matched_on_their_ids_whatever_their_order():
    a = verdicts({"r1": "Paris", "r2": "Lyon"})
    diff = compare_tables("judge/verdicts", a, a.iloc[::-1], ("response_id",))
    assert diff.identical and diff.equal == 2


def test_a_changed_row_is_counted_with_the_column_that_changed_and_unmatched_rows_per_side():
    a = verdicts({"r1": "Paris", "r2": "Lyon", "r3": "Rome"})
    b = verdicts({"r1": "Paris", "r2": "Nice", "r4": "Oslo"})
    diff = compare_tables("judge/verdicts", a, b, ("response_id",))
    assert (diff.equal, diff.different, diff.only_a, diff.only_b) == (1, 1, 1, 1)
    assert diff.columns == {"response": 1} and not diff.identical


def test_floats_equal_to_rounding_are_equal_and_lists_compare_by_value():
    a = verdicts({"r1": "Paris"})
    b = a.assign(loss=0.5 + 1e-15, correct_answers=[["paris", "Paris"]])
    assert compare_tables("t", a, b, ("response_id",)).identical
    assert not compare_tables("t", a, a.assign(loss=0.6), ("response_id",)).identical


def test_two_runs_compare_table_by_table_with_effects_side_by_side_and_notes(tmp_path):
    run_a = make_run(tmp_path / "a", verdicts({"r1": "Paris", "r2": "Lyon"}), effects(2.0))
    run_b = make_run(
        tmp_path / "b", verdicts({"r1": "Paris", "r2": "Nice"}), effects(3.5), note="rewrite sampled on CPU"
    )
    diffs, side = compare_runs(run_a, run_b)
    assert [d.name for d in diffs] == ["judge/verdicts", "analyze/glm_effects"]
    assert (diffs[0].equal, diffs[0].different) == (1, 1)
    assert (diffs[1].different, diffs[1].columns) == (1, {"ame_pp": 1})  # the analysis's own table
    assert (
        side.loc[0, "ame_pp_a"] == 2.0
        and side.loc[0, "ame_pp_b"] == 3.5
        and side.loc[0, "ame_pp_diff"] == 1.5
    )
    text = format_report(diffs, side, {"judge": "rewrite sampled on CPU"})
    assert "0 of 2 tables identical" in text and "response (1)" in text and "nondeterministic" in text


def test_every_analysis_table_is_compared_row_by_row_in_its_order(tmp_path):
    rows = verdicts({"r1": "Paris"})
    run_a, run_b = make_run(tmp_path / "a", rows, effects(2.0)), make_run(tmp_path / "b", rows, effects(2.0))
    cells = pd.DataFrame({"task": ["mmlu", "gsm8k"], "n": [4, 4], "error_pct": [25.0, float("nan")]})
    cells.to_csv(run_a / "analyze" / "tables" / "paired_cells.csv", index=False)
    cells.to_csv(run_b / "analyze" / "tables" / "paired_cells.csv", index=False)
    (run_b / "analyze" / "tables" / "capability.csv").write_text("task,score_pct\nmmlu,50.0\n")
    by_name = {d.name: d for d in compare_runs(run_a, run_b)[0]}
    assert by_name["analyze/paired_cells"].identical and by_name["analyze/glm_effects"].identical
    assert (by_name["analyze/capability"].rows_a, by_name["analyze/capability"].only_b) == (0, 1)
    cells.iloc[::-1].to_csv(run_b / "analyze" / "tables" / "paired_cells.csv", index=False)
    moved = {d.name: d for d in compare_runs(run_a, run_b)[0]}["analyze/paired_cells"]
    assert moved.different == 2 and set(moved.columns) == {"task", "error_pct"}


def test_the_command_prints_the_comparison_and_refuses_a_folder_that_is_no_run(tmp_path, capsys):
    rows = verdicts({"r1": "Paris"})
    run_a, run_b = make_run(tmp_path / "a", rows), make_run(tmp_path / "b", rows)
    assert main(["compare", str(run_a), str(run_b)]) == 0
    assert "1 of 1 tables identical" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    with pytest.raises(CompareError):
        compare_runs(run_a, tmp_path / "empty")
    assert main(["compare", str(run_a), str(tmp_path / "empty")]) == 2


def test_rows_sharing_their_ids_are_compared_in_their_order_not_dropped():
    losses = pd.DataFrame(
        {"style": ["warm", "warm", "cold"], "epoch": [0.5, 0.5, 0.5], "loss": [2.0, 1.5, 2.2]}
    )
    assert compare_tables("t", losses, losses.copy(), ("style", "epoch")).identical
    moved = compare_tables("t", losses, losses.assign(loss=[2.0, 1.4, 2.2]), ("style", "epoch"))
    assert (moved.equal, moved.different, moved.columns) == (2, 1, {"loss": 1})
    shorter = compare_tables("t", losses, losses.iloc[[0, 2]], ("style", "epoch"))
    assert (shorter.equal, shorter.only_a) == (2, 1)
