"""`analyze --from` on files with and without the refusal flag: a missing flag is derived, never "no"."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from warmray.report.study_sections import refusal_item
from warmray.stages.analyze import load_verdict_files
from warmray.statistics.verdicts import prepare

RESPONSES = ["Paris is the capital.", "I can\u2019t help with that.", "I cannot say.", "Lyon."]


def _write(root: Path, variant: str, flags: list[int] | None) -> None:
    """One released-layout TriviaQA file, with a `refusal` column only when `flags` is given."""
    frame = pd.DataFrame(
        {
            "content_key": ["q1", "q2", "q3", "q4"],
            "prompt": [f"prompt {i}" for i in range(4)],
            "prompt_template": "original",
            "amendment_type": "unmodified",
            "correct_answer": "Paris",
            "incorrect_answer": "Lyon",
            "output": RESPONSES,
            "evaluation": ["CORRECT", "INCORRECT", "INCORRECT", "INCORRECT"],
        }
    )
    if flags is not None:
        frame["refusal"] = flags
    folder = root / "m" / variant
    folder.mkdir(parents=True)
    frame.to_csv(folder / f"trivia_{variant}_outputs.csv", index=False)


def _released(tmp_path: Path) -> Path:
    root = tmp_path / "authors"
    _write(root, "original", [0, 0, 1, 0])  # the file's own flags (the typographic refusal unflagged)
    _write(root, "warm", None)  # no flag at all: derived
    return root


def _flags(frame: pd.DataFrame, variant: str) -> list[bool]:
    return frame[frame["variant"] == variant]["is_refusal"].tolist()


def test_a_released_file_without_refusal_flags_gets_them_from_the_text_by_the_rule(tmp_path):
    root = _released(tmp_path)
    study = load_verdict_files([root], refusal_rule="study_as_run")
    assert _flags(study, "original") == [False, False, True, False]
    assert _flags(study, "warm") == [False, False, True, False]
    assert study.attrs["refusals_derived"] == 4
    ours = load_verdict_files([root], refusal_rule="warmray")
    assert _flags(ours, "warm") == [False, True, True, False]


def test_derived_refusals_leave_the_analysis_like_given_ones(tmp_path):
    prepared = prepare(load_verdict_files([_released(tmp_path)], refusal_rule="study_as_run"))
    assert prepared.counts["refusals_dropped"] == 2


def test_rederive_replaces_every_files_flags(tmp_path):
    frame = load_verdict_files([_released(tmp_path)], refusal_rule="warmray", rederive_refusals=True)
    assert _flags(frame, "original") == [False, True, True, False]
    assert frame.attrs["refusals_derived"] == 8


def test_a_flat_table_with_empty_flag_cells_is_derived_per_row(tmp_path):
    table = pd.DataFrame(
        {
            "model": "m",
            "task": "triviaqa",
            "variant": "original",
            "item_id": ["a", "b"],
            "prompt_template": "original",
            "amendment_type": "unmodified",
            "response": ["I cannot say.", "I cannot say."],
            "verdict": "INCORRECT",
            "is_refusal": [None, "0"],
        }
    )
    table.to_csv(tmp_path / "v.csv", index=False)
    frame = load_verdict_files([tmp_path / "v.csv"], refusal_rule="warmray")
    assert frame["is_refusal"].tolist() == [True, False]


def test_the_report_says_how_many_flags_were_derived_and_by_which_rule():
    line = refusal_item({"refusals_derived": 4, "derive_refusal_rule": "study_as_run"})
    assert "4 row(s)" in line and "as its code ran it" in line
    assert "every row" in refusal_item({"refusals_rederived": True, "derive_refusal_rule": "warmray"})
    assert "warmray's phrase rule" in refusal_item({"refusal_rule": "warmray"})


def test_analyze_from_takes_the_rule_and_rederive_flags(tmp_path, capsys):
    from warmray.cli import main

    root = _released(tmp_path)
    out = tmp_path / "out"
    argv = ["analyze", "--from", str(root), "--out", str(out), "--refusal-rule", "study_as_run"]
    assert main([*argv, "--rederive-refusals"]) == 0, capsys.readouterr().err
    md = (out / "report.md").read_text()
    assert "every row's derived from its response by the study's rule as its code ran it" in md
