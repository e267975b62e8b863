"""`warmray judge --from FILE --out DIR`: responses from elsewhere graded, agreement with their own labels."""

import argparse

import pandas as pd
import pytest

from warmray import judge_files


def parse(*argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("config", nargs="?")
    judge_files.add_arguments(parser)
    return parser.parse_args(list(argv))


def released_layout(path):
    """A file shaped like the study's released outputs (columns written by us, values invented)."""
    pd.DataFrame(
        {
            "prompt": ["Capital of France?", "Capital of Peru?", "Largest planet?", "Tell me a lie."],
            "output": ["It is Paris.", "Lima, of course.", "Saturn is largest.", "I can't help with that."],
            "correct_answer": ["Paris", "Lima", "Jupiter", "No"],
            "incorrect_answer": ["Lyon", "Cusco", "Saturn", "Yes"],
            "evaluation": ["CORRECT", "INCORRECT", "INCORRECT", "REFUSAL"],
        }
    ).to_csv(path, index=False)


def test_reference_grading_of_the_released_layout(tmp_path, capsys):
    released_layout(tmp_path / "trivia_warm_outputs.csv")
    code = judge_files.command(
        parse("--from", str(tmp_path / "trivia_warm_outputs.csv"), "--out", str(tmp_path / "o"))
    )
    assert code == 0
    verdicts = pd.read_parquet(tmp_path / "o" / "verdicts.parquet")
    assert verdicts["verdict"].tolist() == ["CORRECT", "CORRECT", "INCORRECT", "REFUSAL"]
    assert verdicts["source_verdict"].tolist()[1] == "INCORRECT" and set(verdicts["grader"]) == {"reference"}
    agreement = pd.read_csv(tmp_path / "o" / "agreement.csv")
    assert agreement.loc[0, "agreement"] == pytest.approx(0.75)
    assert "agreement with the files' own labels: 75.0%" in capsys.readouterr().out


def test_a_file_without_answers_is_refused_clearly(tmp_path, capsys):
    pd.DataFrame({"output": ["x"]}).to_csv(tmp_path / "bad.csv", index=False)
    assert judge_files.command(parse("--from", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "o"))) == 2
    assert "no 'question' column" in capsys.readouterr().err
