from __future__ import annotations

import pandas as pd
import pytest
from analysis_helpers import verdict_rows

from warmray.stages.analyze import AnalysisInputError, load_verdict_files
from warmray.statistics.verdicts import prepare


def _rows() -> pd.DataFrame:
    return verdict_rows(
        [
            ("m", "triviaqa", "original", "007", "original", "unmodified", "CORRECT"),
            ("m", "triviaqa", "warm", "007", "original", "unmodified", "INCORRECT"),
            ("m", "triviaqa", "warm", "008", "incorrect", "emotion:sad", "REFUSAL"),
            ("m", "disinformation", "warm", "d1", "original_neutral", "unmodified", "REFUSAL"),
            ("m", "disinformation", "original", "d1", "correct", "stake:high", "UNPARSEABLE"),
        ]
    )


def test_missing_column_error_names_the_file_and_the_column(tmp_path):
    path = tmp_path / "results.csv"
    _rows().drop(columns=["verdict"]).to_csv(path, index=False)
    with pytest.raises(AnalysisInputError, match=r"results\.csv.*'verdict'"):
        load_verdict_files([path])


def test_unknown_verdict_value_error_lists_the_valid_values(tmp_path):
    path = tmp_path / "results.parquet"
    frame = _rows()
    frame.loc[0, "verdict"] = "MAYBE"
    frame.to_parquet(path)
    with pytest.raises(AnalysisInputError) as err:
        load_verdict_files([path])
    message = str(err.value)
    assert "results.parquet" in message and "'MAYBE'" in message and "'verdict'" in message
    assert "CORRECT" in message and "UNPARSEABLE" in message


def test_unknown_prompt_template_is_rejected():
    frame = _rows()
    frame.loc[0, "prompt_template"] = "leading"
    with pytest.raises(AnalysisInputError, match="prompt_template.*'leading'.*original_neutral"):
        prepare(frame)


def test_empty_required_value_is_rejected():
    frame = _rows()
    frame.loc[1, "model"] = None
    with pytest.raises(AnalysisInputError, match="'model' has 1 empty"):
        prepare(frame)


def test_csv_parquet_and_folder_load_to_the_same_rows(tmp_path):
    frame = _rows()
    frame.to_csv(tmp_path / "a.csv", index=False)
    (tmp_path / "shards").mkdir()
    frame.iloc[:2].to_parquet(tmp_path / "shards" / "part-0.parquet")
    frame.iloc[2:].to_parquet(tmp_path / "shards" / "part-1.parquet")
    from_csv = load_verdict_files([tmp_path / "a.csv"])
    from_folder = load_verdict_files([tmp_path / "shards"])
    assert from_csv["item_id"].tolist()[:2] == ["007", "007"]  # ids stay strings, leading zeros kept
    assert from_csv["verdict"].tolist() == from_folder["verdict"].tolist() == frame["verdict"].tolist()


def test_missing_path_and_empty_folder_are_clear_errors(tmp_path):
    with pytest.raises(AnalysisInputError, match="no such file"):
        load_verdict_files([tmp_path / "nope.csv"])
    with pytest.raises(AnalysisInputError, match="no .parquet files"):
        load_verdict_files([tmp_path])


def test_refusal_is_correct_for_disinformation_and_dropped_elsewhere():
    prepared = prepare(_rows())
    df = prepared.frame
    assert prepared.counts["refusals_counted_correct"] == 1
    assert prepared.counts["refusals_dropped"] == 1
    disinfo = df[df["task"] == "disinformation"]
    assert disinfo["is_incorrect"].tolist() == [0]
    assert "008" not in set(df["item_id"])


def test_unparseable_rows_are_dropped_and_counted():
    prepared = prepare(_rows())
    assert prepared.counts["unparseable_dropped"] == 1
    assert prepared.counts["rows_in"] == 5 and prepared.counts["rows_used"] == 3
    assert "UNPARSEABLE" not in set(prepared.frame["verdict"])


def test_is_refusal_flag_counts_as_a_refusal_whatever_the_verdict():
    frame = _rows()
    frame["is_refusal"] = [False, True, False, False, False]
    prepared = prepare(frame)
    assert prepared.counts["refusals_dropped"] == 2


def test_lowercase_verdicts_are_read():
    frame = _rows()
    frame["verdict"] = frame["verdict"].str.lower()
    assert prepare(frame).frame["is_incorrect"].sum() == 1


def test_context_group_and_user_belief_are_derived():
    df = prepare(_rows()).frame.set_index("item_id")
    assert df.loc["d1", "context_group"] == "none"
    assert df.loc["d1", "belief"] == "none"  # original_neutral: no user belief, as in the study's code
    frame = _rows()
    frame.loc[2, "verdict"] = "CORRECT"
    df = prepare(frame).frame.set_index("item_id")
    assert (df.loc["008", "context_group"], df.loc["008", "belief"]) == ("emotion", "belief")


def test_several_checkpoints_need_a_choice():
    frame = _rows().iloc[:2]
    frame = pd.concat([frame, frame.iloc[[1]]], ignore_index=True)
    frame["checkpoint"] = ["", "epoch_2", "epoch_4"]
    with pytest.raises(AnalysisInputError, match="analyze.checkpoint"):
        prepare(frame)
    prepared = prepare(frame, checkpoint="epoch_4")
    assert prepared.frame["checkpoint"].tolist() == ["", "epoch_4"]
    assert prepared.counts["other_checkpoints_dropped"] == 1
    with pytest.raises(AnalysisInputError, match="'epoch_9' is not in the verdicts"):
        prepare(frame, checkpoint="epoch_9")
