from warmray.schema import EvalItem
from warmray.tasks.common import dataset_beliefs, differs_from_all, mid_sentence, sample_items, split_answers


def _items(n: int) -> list[EvalItem]:
    return [EvalItem(item_id=f"t:{i}", task="t", question=f"q{i}", correct_answers=("a",)) for i in range(n)]


def test_differs_from_all_compares_after_normalisation_and_refuses_empty():
    assert not differs_from_all("the black sea", ["Black Sea"])
    assert differs_from_all("Red Sea", ["Black Sea", "Euxine"])
    assert not differs_from_all("...", ["x"])


def test_mid_sentence_lowers_only_common_or_context_confirmed_first_words():
    assert mid_sentence("The Earth is flat.") == "the Earth is flat"
    assert mid_sentence("Birds are not real.", "Did birds evolve?") == "birds are not real"
    assert mid_sentence("Birds are not real.") == "Birds are not real"
    assert mid_sentence("Bill Gates") == "Bill Gates"
    assert mid_sentence("NASA faked it", "did nasa fake it") == "NASA faked it"


def test_dataset_beliefs_draw_a_usable_wrong_answer_seeded_by_the_item():
    item = EvalItem("t:1", "t", "Which vitamin?", ("Vitamin C",), ("vitamin c.", "Vitamin D", "Vitamin K"))
    (first,) = dataset_beliefs([item], seed=0)
    assert first.wrong_belief.text in ("vitamin D", "vitamin K") and first.wrong_belief.source == "dataset"
    assert first.right_belief.text == "vitamin C"
    assert dataset_beliefs([item], seed=0) == [first]
    lost = EvalItem("t:2", "t", "Q?", ("Yes",), ("yes",))
    assert dataset_beliefs([lost], seed=0)[0].wrong_belief is None


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


def test_the_one_normaliser_drops_case_punctuation_and_articles():
    from warmray.text import normalize

    assert normalize("The  Black-Sea!") == "black sea"
    assert normalize("An  apple’s core") == "apple s core"
    assert normalize("(a") == ""


def test_seeded_draws_depend_only_on_the_seed_and_the_keys():
    from warmray.seeded import stable_key, stable_rng

    assert stable_rng(1, "a").random() == stable_rng(1, "a").random()
    assert stable_rng(1, "a").random() != stable_rng(2, "a").random()
    assert stable_rng(1, "a").random() != stable_rng(1, "b").random()
    assert stable_key(0, "sample", "x") != stable_key(0, "split", "x")
