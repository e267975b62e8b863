from warmray.schema import EvalItem
from warmray.tasks.common import (
    differs_from_all,
    normalize_answer,
    sample_items,
    split_answers,
    stable_rng,
)


def _items(n: int) -> list[EvalItem]:
    return [EvalItem(item_id=f"t:{i}", task="t", question=f"q{i}", correct_answers=("a",)) for i in range(n)]


def test_normalize_answer_drops_case_punctuation_and_articles():
    assert normalize_answer("The  Black-Sea!") == "black sea"
    assert normalize_answer("An  apple’s core") == "apple s core"
    assert normalize_answer("(a") == ""


def test_differs_from_all_compares_after_normalisation_and_refuses_empty():
    assert not differs_from_all("the black sea", ["Black Sea"])
    assert differs_from_all("Red Sea", ["Black Sea", "Euxine"])
    assert not differs_from_all("...", ["x"])


def test_stable_rng_gives_the_same_draw_for_the_same_keys_only():
    assert stable_rng(1, "a").random() == stable_rng(1, "a").random()
    assert stable_rng(1, "a").random() != stable_rng(2, "a").random()
    assert stable_rng(1, "a").random() != stable_rng(1, "b").random()


def test_samples_are_seeded_nested_and_in_source_order():
    items = _items(200)
    small, large = sample_items(items, 20, seed=3), sample_items(items, 80, seed=3)
    assert len(small) == 20 and len(large) == 80
    assert {i.item_id for i in small} <= {i.item_id for i in large}
    assert sample_items(items, 20, seed=3) == small
    assert sample_items(items, 20, seed=4) != small
    positions = [int(i.item_id.split(":")[1]) for i in large]
    assert positions == sorted(positions)


def test_sample_of_none_or_more_than_available_keeps_everything():
    items = _items(5)
    assert sample_items(items, None, 0) == items
    assert sample_items(items, 50, 0) == items


def test_split_answers_reads_lists_and_separated_strings():
    assert split_answers("a; b ;; c") == ["a", "b", "c"]
    assert split_answers(["a", " ", "b "]) == ["a", "b"]
    assert split_answers("x; y", sep=None) == ["x; y"]
    assert split_answers(None) == []
