"""Judge agreement: kappa and its CI against hand computation, joins on ids and on texts, the command."""

import argparse
import json

import numpy as np
import pandas as pd
import pytest

from warmray import judge_agreement
from warmray.grading import agreement
from warmray.grading.agreement import AgreementError, Source, compare, join, kappa, read_source


def paired(a, b, **extra):
    return pd.DataFrame({"label_a": a, "label_b": b, **extra})


def test_kappa_matches_the_textbook_formula():
    # 20 CC, 5 CI, 10 IC, 15 II: po = 0.7, pe = 0.5 * 0.6 + 0.5 * 0.4 = 0.5, kappa = 0.4
    a = ["CORRECT"] * 25 + ["INCORRECT"] * 25
    b = ["CORRECT"] * 20 + ["INCORRECT"] * 5 + ["CORRECT"] * 10 + ["INCORRECT"] * 15
    got = kappa(paired(a, b))
    assert got["n"] == 50 and got["agreement"] == pytest.approx(0.7) and got["kappa"] == pytest.approx(0.4)
    # Fleiss, Cohen & Everitt (1969) standard error, by hand.
    p = np.array([[20, 5], [10, 15]]) / 50
    rows, cols, po, pe, k = p.sum(1), p.sum(0), 0.7, 0.5, 0.4
    diag = sum(p[i, i] * (1 - (rows[i] + cols[i]) * (1 - k)) ** 2 for i in range(2))
    off = (1 - k) ** 2 * sum(p[i, j] * (cols[i] + rows[j]) ** 2 for i in range(2) for j in range(2) if i != j)
    se = np.sqrt((diag + off - (k - pe * (1 - k)) ** 2) / (50 * (1 - pe) ** 2))
    assert got["kappa_ci_low"] == pytest.approx(k - 1.959964 * se, abs=1e-4)
    assert got["kappa_ci_high"] == pytest.approx(k + 1.959964 * se, abs=1e-4)
    assert po == got["agreement"]


def test_perfect_and_degenerate_agreement():
    assert kappa(paired(["CORRECT", "INCORRECT"], ["CORRECT", "INCORRECT"]))["kappa"] == pytest.approx(1.0)
    same = kappa(paired(["CORRECT"] * 3, ["CORRECT"] * 3))
    assert same["agreement"] == 1.0 and np.isnan(same["kappa"])


def ours(labels, **cols):
    n = len(labels)
    return pd.DataFrame(
        {
            "response_id": [f"m|warm|q{i}" for i in range(n)],
            "task": ["triviaqa", "medqa"] * (n // 2),
            "variant": "warm",
            "prompt": [f"question {i}" for i in range(n)],
            "response": [f"answer {i}" for i in range(n)],
            "verdict": labels,
            **cols,
        }
    )


def test_join_on_ids_two_columns_of_one_table_and_per_task_rows(tmp_path):
    frame = ours(
        ["CORRECT", "INCORRECT", "CORRECT", "CORRECT"], human=["correct", "INCORRECT", "INCORRECT", ""]
    )
    path = tmp_path / "v.parquet"
    frame.to_parquet(path)
    table, matrix = compare(read_source(str(path)), read_source(f"{path}:human"))
    overall = table.iloc[0]
    assert overall["n"] == 3 and overall["agreement"] == pytest.approx(2 / 3)  # the unlabelled row is out
    assert set(table["scope"]) == {"overall", "task", "variant"}
    assert table.set_index(["scope", "level"]).loc[("task", "medqa"), "n"] == 1
    assert matrix.loc["CORRECT", "INCORRECT"] == 1 and matrix.loc["INCORRECT", "INCORRECT"] == 1


def test_the_released_layout_joins_on_text(tmp_path):
    mine = ours(["CORRECT", "INCORRECT"]).drop(columns=["response_id"])
    released = pd.DataFrame(
        {
            "prompt": ["question 1", "question 0"],
            "output": ["answer 1 ", "answer 0"],
            "evaluation": ["CORRECT"] * 2,
        }
    )
    released.to_csv(tmp_path / "trivia_warm_outputs.csv", index=False)
    source = read_source(str(tmp_path / "trivia_warm_outputs.csv"))
    assert source.label == "verdict"
    joined = join(Source("ours", mine, "verdict"), source)
    assert sorted(zip(joined["label_a"], joined["label_b"], strict=True)) == [
        ("CORRECT", "CORRECT"),
        ("INCORRECT", "CORRECT"),
    ]


def test_unjoinable_sources_say_why(tmp_path):
    a = Source("a", pd.DataFrame({"x": [1], "verdict": ["CORRECT"]}), "verdict")
    with pytest.raises(AgreementError, match="share no ids"):
        join(a, a)
    a.frame.to_parquet(tmp_path / "a.parquet")
    with pytest.raises(AgreementError, match="no column 'nope'"):
        read_source(f"{tmp_path / 'a.parquet'}:nope")
    with pytest.raises(AgreementError, match="expected a .csv or .parquet"):
        read_source(__file__)


def test_command_prints_and_writes(tmp_path, capsys):
    a, b = tmp_path / "a.parquet", tmp_path / "b.csv"
    ours(["CORRECT", "INCORRECT"] * 5).to_parquet(a)
    ours(["CORRECT", "INCORRECT"] * 4 + ["INCORRECT", "CORRECT"]).to_csv(b, index=False)
    parser = argparse.ArgumentParser()
    judge_agreement.add_arguments(parser)
    assert judge_agreement.command(parser.parse_args([str(a), str(b), "--out", str(tmp_path / "out")])) == 0
    printed = capsys.readouterr().out
    assert "10 paired rows: agreement 80.0%" in printed and "kappa" in printed
    summary = json.loads((tmp_path / "out" / "agreement.json").read_text())
    assert summary["n"] == 10 and summary["kappa"] == pytest.approx(0.6)
    assert (tmp_path / "out" / "confusion.csv").is_file()
    assert judge_agreement.command(parser.parse_args([str(a), str(tmp_path / "missing.csv")])) == 2


def test_the_report_section_reads_the_runs_agreement_table(tmp_path):
    from warmray.report.agreement import judge_agreement_blocks
    from warmray.schema import write_table

    out_dir = tmp_path / "run" / ".analyze.partial"
    assert judge_agreement_blocks(out_dir) == []
    joined = paired(["CORRECT", "INCORRECT"] * 5, ["CORRECT", "INCORRECT"] * 4 + ["INCORRECT", "CORRECT"])
    write_table(
        agreement.agreement_table(joined), tmp_path / "run" / "judge" / "agreement.parquet", "judge_agreement"
    )
    blocks = judge_agreement_blocks(out_dir)
    assert blocks[0].text == "Judge agreement" and "agree on 80.0% of 10 responses" in blocks[1].text
