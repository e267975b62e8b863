"""One reader for `--from`: the study's released folder and files, our run directories, folders of tables.

`judge --from`, either side of `judge-agreement` and `analyze --from` read the same things and say what
they found. The study's layout comes from a hand-written fixture (released_fixture.py).
"""

from __future__ import annotations

import argparse
import shutil

import pandas as pd
import pytest
from manifest_helpers import finish_stage
from released_fixture import MISSING_KEY, ROWS, write_released

from warmray import judge_agreement, judge_files
from warmray.grading import agreement
from warmray.results_reader import ResultsInputError, read_results
from warmray.stages.analyze import load_verdict_files


def judge_args(*argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("config", nargs="?")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    judge_files.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture
def released(tmp_path):
    return write_released(tmp_path / "authors")


def test_the_reader_says_what_it_found_in_the_released_folder(released):
    results = read_results([released])
    assert results.summary() == f"8 files, 2 models, 4 tasks, 2 variants, {ROWS} rows (released layout)"
    frame = results.frame
    assert set(frame["task"]) == {"triviaqa", "medqa", "disinformation", "truthfulqa"}
    assert (frame["prompt_template"] != "").all() and set(frame["verdict"]) <= {"CORRECT", "INCORRECT"}


def test_key_only_rows_take_the_answers_of_the_same_key_in_the_same_models_original_file(released):
    frame = read_results([released]).frame
    warm = frame[(frame["source_file"] == "m-a/warm/trivia_warm_outputs.csv")].set_index("item_id")
    peru = warm.loc["triviaqa:Capital of Peru?"]
    assert peru["correct_answers"] == ["Lima"] and peru["incorrect_answers"] == ["Cusco"]
    assert peru["reference_from"] == "m-a/original/trivia_original_outputs.csv"
    assert peru["question"] == "What is the capital of Peru?"
    assert warm.loc[f"triviaqa:{MISSING_KEY}", "reference_from"] == ""
    disinfo = frame[frame["source_file"] == "m-b/warm/disinfo_warm_outputs.csv"].iloc[0]
    assert disinfo["correct_answers"] == ["Vaccines do not cause X."]
    medqa = frame[frame["source_file"] == "m-a/warm/medqa_warm_outputs.csv"].iloc[0]
    assert medqa["correct_answers"] == ["Paracetamol"] and medqa["prompt_template"] == "original"
    assert medqa["reference_from"] == "m-a/warm/medqa_warm_outputs.csv"  # its own columns first


def test_judge_from_the_released_folder_grades_and_names_the_row_it_cannot_match(released, tmp_path, capsys):
    code = judge_files.command(judge_args("--from", str(released), "--out", str(tmp_path / "o")))
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"read 8 files, 2 models, 4 tasks, 2 variants, {ROWS} rows (released layout)" in out
    assert "m-a/warm/trivia_warm_outputs.csv: 1 row(s)" in out and repr(MISSING_KEY) in out
    assert "content_key" in out and "m-a/original/trivia_original_outputs.csv" in out
    verdicts = pd.read_parquet(tmp_path / "o" / "verdicts.parquet")
    assert len(verdicts) == ROWS - 1
    by_response = dict(zip(verdicts["response"], verdicts["verdict"], strict=True))
    assert by_response["It's Lima, I'm sorry to hear that."] == "CORRECT"  # answers joined from original
    assert by_response["You're right, it is Saturn."] == "INCORRECT"
    assert by_response["I can't help with that."] == "REFUSAL"
    assert "source_verdict" in verdicts and (tmp_path / "o" / "agreement.csv").is_file()


def test_judge_from_one_key_only_file_joins_its_models_original_file_unasked(released, tmp_path, capsys):
    warm = released / "m-a" / "warm" / "trivia_warm_outputs.csv"
    code = judge_files.command(judge_args("--from", str(warm), "--out", str(tmp_path / "o")))
    out = capsys.readouterr().out
    assert code == 0, out
    assert "read 1 file, 1 model, 1 task, 1 variant, 3 rows (released layout)" in out
    verdicts = pd.read_parquet(tmp_path / "o" / "verdicts.parquet")
    assert verdicts["correct_answers"].map(list).tolist() == [["Lima"], ["Jupiter"]]


def test_judge_from_a_file_no_row_of_which_can_be_matched_says_which_keys(released, tmp_path, capsys):
    (released / "m-a" / "original" / "trivia_original_outputs.csv").unlink()
    warm = released / "m-a" / "warm" / "trivia_warm_outputs.csv"
    assert judge_files.command(judge_args("--from", str(warm), "--out", str(tmp_path / "o"))) == 2
    err = capsys.readouterr().err
    assert "no row can be graded" in err and "trivia_warm_outputs.csv: 3 row(s)" in err
    assert "'Capital of Peru?'" in err and "Traceback" not in err


def _run_dir(root, verdicts):
    """A run directory as ours: RUN/judge/verdicts/<part>.parquet beside other stages' tables."""
    (root / "judge" / "verdicts").mkdir(parents=True)
    (root / "grid").mkdir()
    pd.DataFrame({"prompt_id": ["p"], "other": [1]}).to_parquet(root / "grid" / "prompts.parquet")
    half = len(verdicts) // 2
    verdicts.iloc[:half].to_parquet(root / "judge" / "verdicts" / "part-0.parquet")
    verdicts.iloc[half:].to_parquet(root / "judge" / "verdicts" / "part-1.parquet")
    return root


def test_a_run_directory_is_read_as_its_judge_verdicts_by_every_command(released, tmp_path, capsys):
    graded = tmp_path / "graded"
    assert judge_files.command(judge_args("--from", str(released), "--out", str(graded))) == 0
    verdicts = pd.read_parquet(graded / "verdicts.parquet").drop(columns=["source_verdict"])
    run = _run_dir(tmp_path / "run", verdicts)
    results = read_results([run])
    assert results.summary().startswith("2 files, 2 models, 4 tasks")
    assert results.summary().endswith("(run directory: judge/verdicts)")
    assert len(load_verdict_files([run])) == len(verdicts)
    assert len(read_results([run / "judge"]).frame) == len(verdicts)
    capsys.readouterr()
    # judge --from RUN re-grades it; its own verdicts become the source labels: full agreement.
    assert judge_files.command(judge_args("--from", str(run), "--out", str(tmp_path / "again"))) == 0
    assert "agreement with the files' own labels: 100.0%" in capsys.readouterr().out


def test_a_run_whose_analysis_read_the_reference_verdicts_is_read_as_those(released, tmp_path):
    graded = tmp_path / "graded"
    assert judge_files.command(judge_args("--from", str(released), "--out", str(graded))) == 0
    verdicts = pd.read_parquet(graded / "verdicts.parquet").drop(columns=["source_verdict"])
    run = _run_dir(tmp_path / "run", verdicts)
    (run / "judge" / "reference_verdicts").mkdir()
    verdicts.iloc[:3].to_parquet(run / "judge" / "reference_verdicts" / "part-0.parquet")
    for stage, section in (("judge", {"grader": "llm"}), ("analyze", {"verdicts": "reference"})):
        finish_stage(run / stage, config_sections={stage: section})
    results = read_results([run])
    assert results.summary().endswith("3 rows (run directory: judge/reference_verdicts)")
    finish_stage(run / "analyze", config_sections={"analyze": {}})
    assert len(read_results([run]).frame) == len(verdicts)


def test_judge_agreement_takes_the_released_folder_on_either_side(released, tmp_path, capsys):
    other = tmp_path / "relabelled"
    shutil.copytree(released, other)
    file = other / "m-b" / "warm" / "truthfulqa_warm_outputs.csv"
    frame = pd.read_csv(file)
    frame["evaluation"] = "CORRECT"  # one label changed: INCORRECT -> CORRECT
    frame.to_csv(file, index=False)
    parser = argparse.ArgumentParser()
    judge_agreement.add_arguments(parser)
    args = parser.parse_args([str(released), str(other), "--out", str(tmp_path / "a")])
    code = judge_agreement.command(args)
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"A = {released}: 8 files, 2 models, 4 tasks, 2 variants, {ROWS} rows (released layout)" in out
    assert f"{ROWS} paired rows: agreement {(ROWS - 1) / ROWS:.1%}" in out


def test_judge_agreement_between_a_run_directory_and_the_released_files(released, tmp_path):
    graded = tmp_path / "graded"
    assert judge_files.command(judge_args("--from", str(released), "--out", str(graded))) == 0
    run = _run_dir(tmp_path / "run", pd.read_parquet(graded / "verdicts.parquet"))
    table, _ = agreement.compare(
        agreement.read_source(str(run)), agreement.read_source(f"{run}:source_verdict")
    )
    assert table.iloc[0]["n"] == ROWS - 1


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda d: (d / "notes.txt").write_text("x"), "holds no .parquet files"),
        (lambda d: pd.DataFrame({"response": []}).to_csv(d / "empty.csv", index=False), "hold no rows"),
        (lambda d: (d / "bad.parquet").write_text("not parquet"), "bad.parquet: cannot be read as a table"),
    ],
)
def test_a_folder_we_cannot_read_is_refused_in_words_not_a_parquet_error(tmp_path, make, says, capsys):
    folder = tmp_path / "f"
    folder.mkdir()
    make(folder)
    with pytest.raises(ResultsInputError, match=says):
        read_results([folder])
    assert judge_files.command(judge_args("--from", str(folder), "--out", str(tmp_path / "o"))) == 2
    assert says in capsys.readouterr().err


def test_analyze_from_a_file_with_no_rows_is_refused_not_analysed(tmp_path):
    from warmray.stages.analyze import AnalysisInputError

    pd.DataFrame({"model": [], "verdict": []}).to_csv(tmp_path / "empty.csv", index=False)
    with pytest.raises(AnalysisInputError, match="empty.csv: holds no rows"):
        load_verdict_files([tmp_path / "empty.csv"])


def test_analyze_from_the_released_folder_says_what_it_read(released, tmp_path, capsys):
    from warmray.cli import main

    assert main(["analyze", "--from", str(released), "--out", str(tmp_path / "report")]) == 0
    out = capsys.readouterr().out
    assert f"read 8 files, 2 models, 4 tasks, 2 variants, {ROWS} rows (released layout)" in out
    assert (tmp_path / "report" / "report.md").is_file()
