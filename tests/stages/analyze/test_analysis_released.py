"""The study's released layout, on a small fixture written by us: read as our rows, analysed the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from warmray.config import AnalyzeConfig
from warmray.stages.analyze import AnalysisInputError, analyze, load_verdict_files
from warmray.statistics.synthetic import synthetic_verdicts

THEIR_TASK = {"triviaqa": "trivia", "truthfulqa": "truthfulqa", "medqa": "medqa", "disinformation": "disinfo"}
KEY = {
    "triviaqa": "content_key",
    "truthfulqa": "content_key",
    "medqa": "original_question",
    "disinformation": "prompt_disinfo",
}
REFERENCE = {
    "triviaqa": ("correct_answer", "incorrect_answer"),
    "truthfulqa": ("correct_answer", "incorrect_answer"),
    "medqa": ("answer", "wrong_answer"),
    "disinformation": ("ground_truth", "ground_false"),
}


def _our_rows() -> pd.DataFrame:
    """Verdicts in our columns: CORRECT / INCORRECT plus a refusal flag, as the study's files keep them."""
    frame = synthetic_verdicts(("m-a", "m-b"), tuple(THEIR_TASK), 12, seed=4, refusal_rate=0.05)
    frame = frame.drop(columns=["true_p0", "true_p1", "checkpoint"])
    rng = np.random.default_rng(0)
    refused = frame["verdict"] == "REFUSAL"
    frame.loc[refused, "verdict"] = np.where(rng.random(int(refused.sum())) < 0.5, "CORRECT", "INCORRECT")
    frame["prompt"] = [
        f"prompt {i} {t} {a}"
        for i, t, a in zip(frame["item_id"], frame["prompt_template"], frame["amendment_type"], strict=True)
    ]
    frame["correct_answers"] = [[f"right {i}"] for i in frame["item_id"]]
    frame["incorrect_answers"] = [[f"wrong {i}"] for i in frame["item_id"]]
    for col in ("model", "task", "variant", "response"):
        frame[col] = frame[col].astype(str)
    return frame


def _write_released(frame: pd.DataFrame, root: Path) -> None:
    """Our rows as ROOT/<model>/<variant>/<task>_<variant>_outputs.csv in the study's columns.

    Warm files keep only the key, prompt, output and verdict; original files carry the rest, with the
    study's names (prompt_type, relation:up) in model m-b's files.
    """
    for (model, variant, task), rows in frame.groupby(["model", "variant", "task"]):
        out = pd.DataFrame(
            {
                KEY[task]: rows["item_id"].str.split(":", n=1).str[1],
                "prompt": rows["prompt"],
                "output": rows["response"],
                "evaluation": rows["verdict"],
            }
        )
        if variant == "original":
            template = "prompt_type" if model == "m-b" else "prompt_template"
            out[template] = rows["prompt_template"]
            amendments = rows["amendment_type"]
            if model == "m-b":
                amendments = amendments.replace({"relation:hierarchical_up": "relation:up"})
            out["amendment_type"] = amendments
            out["refusal"] = rows["is_refusal"].astype(int)
            right, wrong = REFERENCE[task]
            out[right] = rows["correct_answers"].str[0]
            out[wrong] = rows["incorrect_answers"].str[0]
        else:
            out["refusal"] = rows["is_refusal"].astype(int)
        folder = root / model / variant
        folder.mkdir(parents=True, exist_ok=True)
        out.to_csv(folder / f"{THEIR_TASK[task]}_{variant}_outputs.csv", index=False)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    root = tmp_path_factory.mktemp("released")
    ours = _our_rows()
    _write_released(ours, root / "authors")
    return ours, root


def test_released_layout_reads_as_our_rows_with_references_from_other_files(both):
    ours, root = both
    read = load_verdict_files([root / "authors"])
    assert len(read) == len(ours)
    assert set(read["task"]) == set(THEIR_TASK)
    assert "relation:up" not in set(read["amendment_type"])
    key = ["model", "variant", "item_id", "prompt_template", "amendment_type"]
    merged = ours.merge(read, on=key, suffixes=("", "_read"))
    assert len(merged) == len(ours)
    assert (merged["verdict"] == merged["verdict_read"]).all()
    assert (merged["response"] == merged["response_read"]).all()
    assert (merged["is_refusal"] == merged["is_refusal_read"]).all()
    warm = merged[merged["variant"] == "warm"]
    assert (warm["correct_answers_read"].str[0] == warm["correct_answers"].str[0]).all()


def test_analyze_gives_the_same_tables_on_the_released_layout_and_on_our_columns(both, tmp_path):
    ours, root = both
    mine = tmp_path / "ours.parquet"
    ours.to_parquet(mine)
    config = AnalyzeConfig()
    analyze(load_verdict_files([mine]), tmp_path / "from_ours", config=config)
    analyze(load_verdict_files([root / "authors"]), tmp_path / "from_released", config=config)
    names = sorted(p.name for p in (tmp_path / "from_ours" / "tables").glob("*.csv"))
    assert "paired_cells.csv" in names and "dropped_rows.csv" in names
    assert names == sorted(p.name for p in (tmp_path / "from_released" / "tables").glob("*.csv"))
    for name in names:
        a = pd.read_csv(tmp_path / "from_ours" / "tables" / name)
        b = pd.read_csv(tmp_path / "from_released" / "tables" / name)
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=name)
    cells = pd.read_csv(tmp_path / "from_released" / "tables" / "paired_cells.csv")
    assert len(cells) == 2 * 4 * 18  # models x tasks x (9 context + 9 belief) cells


def test_disinfo_refusals_count_as_correct_like_disinformation(both):
    from warmray.statistics.verdicts import prepare

    _, root = both
    prepared = prepare(load_verdict_files([root / "authors"]))
    read = load_verdict_files([root / "authors"])
    refused_disinfo = int((read["is_refusal"] & (read["task"] == "disinformation")).sum())
    assert refused_disinfo > 0 and prepared.counts["refusals_counted_correct"] == refused_disinfo


def test_a_released_file_without_the_item_key_is_named_with_its_columns(tmp_path):
    folder = tmp_path / "root" / "m" / "original"
    folder.mkdir(parents=True)
    pd.DataFrame({"prompt": ["p"], "output": ["o"], "evaluation": ["CORRECT"]}).to_csv(
        folder / "trivia_original_outputs.csv", index=False
    )
    with pytest.raises(AnalysisInputError) as caught:
        load_verdict_files([tmp_path / "root"])
    message = str(caught.value)
    assert (
        "trivia_original_outputs.csv" in message and "content_key" in message and "Columns found" in message
    )
