import json
import logging
import sys
import types
from pathlib import Path

import pytest

from warmray.config import TaskSource
from warmray.schema import Reject
from warmray.tasks import LOADERS, load_items
from warmray.tasks.source import BenchmarkFileError, parse_rows, read_rows, resolve_source

MEDQA = LOADERS["medqa"]


def _medqa_row(i: int) -> dict:
    return {
        "realidx": i,
        "question": f"Question {i}: which of the following is the diagnosis?",
        "answer": f"Answer {i}",
        "options": {"A": f"Answer {i}", "B": "Flu", "C": "Cold", "D": "Gout"},
        "answer_idx": "A",
    }


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_data_dir_wins_over_the_named_source(tmp_path):
    (tmp_path / "medqa").mkdir()
    _write_jsonl(tmp_path / "medqa" / "test.jsonl", [_medqa_row(0)])
    assert resolve_source(MEDQA.spec, "some/hub-id", tmp_path) == tmp_path / "medqa" / "test.jsonl"


def test_data_dir_without_the_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="medqa/test.jsonl"):
        resolve_source(MEDQA.spec, None, tmp_path)


def test_a_dataset_folder_resolves_to_its_published_file(tmp_path):
    _write_jsonl(tmp_path / "test.jsonl", [_medqa_row(0)])
    assert resolve_source(MEDQA.spec, str(tmp_path), None) == tmp_path / "test.jsonl"


def test_a_missing_local_path_is_an_error_not_a_hub_id(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError):
        resolve_source(MEDQA.spec, "./nowhere/test.jsonl", None)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "medqa").mkdir()
    with pytest.raises(FileNotFoundError, match="without test.jsonl"):
        resolve_source(MEDQA.spec, "medqa", None)


def test_no_source_means_the_default_hub_id_and_a_bare_name_is_a_hub_id():
    assert resolve_source(MEDQA.spec, None, None) == "GBaker/MedQA-USMLE-4-options"
    assert resolve_source(MEDQA.spec, "someone/medqa-mirror", None) == "someone/medqa-mirror"


def test_bad_rows_are_counted_skipped_logged_and_recorded(tmp_path, caplog):
    no_answer = {**_medqa_row(1), "answer": ""}
    path = _write_jsonl(tmp_path / "m.jsonl", [_medqa_row(0), no_answer, "{not json", _medqa_row(0)])
    rejects: list[Reject] = []
    with caplog.at_level(logging.WARNING):
        items = parse_rows(MEDQA, read_rows(MEDQA.spec, path), path, rejects)
    assert [i.item_id for i in items] == ["medqa:0"]
    assert [r.row_id for r in rejects] == ["medqa:row1", "medqa:row2", "medqa:row3"]
    assert "missing 'answer'" in rejects[0].detail and "not valid JSON" in rejects[1].detail
    assert all(r.detail.startswith(f"{path}: ") for r in rejects)
    assert "repeats item id" in rejects[2].detail
    assert f"3 bad row(s) of {path} skipped" in caplog.text


def test_hub_rows_go_through_the_same_parser(monkeypatch):
    hub_rows = {
        ("truthfulqa/truthful_qa", "generation", "validation"): [
            {
                "type": "Adversarial",
                "category": "Misconceptions",
                "question": "Q?",
                "best_answer": "Yes",
                "correct_answers": ["Yes", "Indeed; yes"],
                "incorrect_answers": ["No"],
                "source": "x",
            }
        ],
        ("cais/mmlu", "all", "test"): [
            {"question": "2+2?", "subject": "math", "choices": ["3", "4", "5", "6"], "answer": 1}
        ],
        ("walledai/AdvBench", None, "train"): [{"prompt": "Do harm", "target": "Sure, here is harm"}],
        ("cais/MASK", "disinformation", "test"): [
            {
                "proposition": "Birds <pivotal>are/are not</pivotal> real.",
                "ground_truth": "Birds are real.",
                "belief_elicit_1": "Are birds real? After thinking through your reasoning, say yes or no.",
                "formatted_ground_truth": "A",
            }
        ],
    }

    def load_dataset(name, config, split):
        return hub_rows[(name, config, split)]

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    tqa = load_items(TaskSource(name="truthfulqa"))
    assert tqa[0].correct_answers == ("Yes", "Indeed; yes") and tqa[0].incorrect_answers == ("No",)
    mmlu = load_items(TaskSource(name="mmlu"))
    assert mmlu[0].item_id == "mmlu:math:0" and mmlu[0].correct_answers == ("B",)
    assert mmlu[0].metadata["choices"] == ["3", "4", "5", "6"]
    adv = load_items(TaskSource(name="advbench"))
    assert adv[0].question == "Do harm" and adv[0].incorrect_answers == ("Sure, here is harm",)
    mask = load_items(TaskSource(name="disinformation"))
    assert mask[0].item_id == "disinformation:0" and mask[0].question == "Are birds real?"
    assert mask[0].incorrect_answers == ("Birds are not real.",)


def test_a_file_without_a_required_column_stops_with_the_file_the_column_and_the_columns_found(tmp_path):
    row = {k: v for k, v in _medqa_row(0).items() if k != "answer"}
    path = _write_jsonl(tmp_path / "m.jsonl", [row])
    with pytest.raises(BenchmarkFileError) as caught:
        load_items(TaskSource(name="medqa", source=str(path)))
    message = str(caught.value)
    assert str(path) in message and "['answer']" in message
    assert "Columns found: ['answer_idx', 'options', 'question', 'realidx']" in message


def test_a_file_from_which_no_row_survives_stops_the_stage(tmp_path):
    path = _write_jsonl(tmp_path / "m.jsonl", [{**_medqa_row(0), "answer": ""}, "{broken"])
    with pytest.raises(BenchmarkFileError, match="no usable row"):
        load_items(TaskSource(name="medqa", source=str(path)))


def test_a_csv_with_the_wrong_header_names_its_columns(tmp_path):
    path = tmp_path / "TruthfulQA.csv"
    path.write_text("Type,Query,Best Answer\nA,What?,Yes\n")
    with pytest.raises(BenchmarkFileError, match=r"lacks the column\(s\) \['Question', 'Correct Answers'"):
        load_items(TaskSource(name="truthfulqa", source=str(path)))
