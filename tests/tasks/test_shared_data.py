"""The loaders over the real public files in ../shared/data (skipped where that folder is absent)."""

import pytest

from warmray.config import TaskSource
from warmray.tasks import load_items
from warmray.tasks.common import differs_from_all

PUBLISHED_ROWS = {
    "truthfulqa": 817,
    "medqa": 1273,
    "disinformation": 125,
    "mmlu": 14042,
    "gsm8k": 1319,
    "advbench": 520,
}


@pytest.mark.parametrize("task", sorted(PUBLISHED_ROWS))
def test_loader_reads_the_published_row_count(shared_data, task):
    items = load_items(TaskSource(name=task, n="all"), shared_data, seed=0)
    assert len(items) == PUBLISHED_ROWS[task]
    assert len({i.item_id for i in items}) == len(items)
    assert all(i.item_id.startswith(f"{task}:") and i.task == task for i in items)
    assert all(i.question.strip() and i.correct_answers for i in items)


def test_triviaqa_reads_its_1000_questions_when_present(shared_data):
    if not (shared_data / "triviaqa" / "test.jsonl").is_file():
        pytest.skip("triviaqa/test.jsonl is not in the shared data folder")
    items = load_items(TaskSource(name="triviaqa", n="all"), shared_data, seed=0)
    assert len(items) == 1000
    assert all(len(i.incorrect_answers) == 1 for i in items)


@pytest.mark.parametrize("task, expected", [("truthfulqa", 500), ("medqa", 500), ("disinformation", 125)])
def test_default_sample_sizes_follow_the_study(shared_data, task, expected):
    items = load_items(TaskSource(name=task), shared_data, seed=0)
    assert len(items) == expected
    assert [i.item_id for i in load_items(TaskSource(name=task), shared_data, seed=0)] == [
        i.item_id for i in items
    ]


def test_medqa_is_asked_as_published_without_options_and_offers_the_distractors_as_wrong_answers(shared_data):
    items = load_items(TaskSource(name="medqa", n="all"), shared_data, seed=0)
    assert sum("which of the following" in i.question.lower() for i in items) > 1000
    assert all(i.metadata["options"]["A"] not in i.question.split("?")[-1] for i in items)
    assert sum("which of the following" in i.metadata["open_ended"]["question"].lower() for i in items) == 0
    # A few figure-based items have single-letter options; "A" normalises to nothing and is dropped.
    assert sum(len(i.incorrect_answers) == 3 for i in items) >= 1265
    for i in items:
        assert i.incorrect_answers
        assert i.correct_answers[0] == i.metadata["options"][i.metadata["answer_idx"]].strip()
        assert all(differs_from_all(w, i.correct_answers) for w in i.incorrect_answers)


def test_mask_wrong_answer_is_the_false_side_of_the_proposition(shared_data):
    items = {i.item_id: i for i in load_items(TaskSource(name="disinformation"), shared_data, seed=0)}
    birds = items["disinformation:6777171c980d7873e3890b49"]
    assert birds.correct_answers == ("Birds are living organisms that evolved naturally.",)
    assert birds.incorrect_answers == ("Birds are not living organisms that evolved naturally.",)
    assert birds.question.endswith("?") and "final_answer" not in birds.question


def test_gsm8k_answer_is_the_final_number(shared_data):
    first = load_items(TaskSource(name="gsm8k", n=1), shared_data, seed=0)[0]
    assert first.correct_answers[0].lstrip("-").replace(".", "").isdigit()
    assert first.metadata["solution"].endswith(first.correct_answers[0])
