import re

import pytest

from warmray.config import TaskSource
from warmray.tasks import load_items, propose_beliefs
from warmray.tasks.triviaqa import (
    add_fallback_beliefs,
    answer_type,
    nearest,
    numeric_value,
    overlaps,
    parse,
    usable_wrong_answer,
)


def _item(qid: str, question: str, value: str, *aliases: str):
    return parse(
        {"question_id": qid, "question": question, "answer": {"value": value, "aliases": list(aliases)}}, 0
    )


POOL = [
    _item("p1", "Who painted the Mona Lisa?", "Leonardo da Vinci", "Leonardo"),
    _item("p2", "Who wrote Hamlet?", "William Shakespeare", "Shakespeare"),
    _item("p3", "Who composed the Messiah?", "Handel"),
    _item("c1", "Which city is the capital of France?", "Paris"),
    _item("c2", "Which river flows through Cairo?", "Nile"),
    _item("c3", "In which country is Kyoto?", "Japan"),
    _item("y1", "In what year did the Titanic sink?", "1912"),
    _item("y2", "When did the Berlin Wall fall?", "1989"),
    _item("n1", "How many players in a rugby union team?", "15", "fifteen"),
    _item("n2", "How many legs does a spider have?", "8", "eight"),
    _item("o1", "What is the hardest natural mineral?", "Diamond"),
]


@pytest.mark.parametrize(
    "question, answer, kind",
    [
        ("In what year did the Titanic sink?", "1912", "year"),
        ("How many legs does a spider have?", "8", "number"),
        ("How many make a gross?", "one hundred and forty four", "number"),
        ("What percentage of the air is nitrogen?", "78%", "number"),
        ("Who wrote Hamlet?", "Shakespeare", "person"),
        ("Which author wrote Emma?", "Jane Austen", "person"),
        ("Which river flows through Cairo?", "Nile", "place"),
        ("What is the hardest natural mineral?", "Diamond", "other"),
        ("Which 1998 film starred Jim Carrey as Truman?", "The Truman Show", "title"),
        (
            "What is the title of the last Harry Potter novel?",
            "Harry Potter and the Deathly Hallows",
            "title",
        ),
        ("What fairy tale features a wolf who huffs and puffs?", "Three Little Pigs", "title"),
        ("Which film director visited the deepest point on Earth?", "James Cameron", "person"),
        ("Which English club did Kenny Dalglish join in 1977?", "Liverpool FC", "organisation"),
        ("Which band released Sheer Heart Attack?", "Queen", "organisation"),
        ("Who sang She Loves You?", "The Beatles", "organisation"),
        ("Who had a hit with Tutti Frutti?", "Little Richard", "person"),
        ("Who were the backing group of Junior Walker?", "Junior Walker and the All Stars", "organisation"),
        ("What was the name of the doctor who treated Michael Jackson?", "Conrad Murray", "person"),
        ("In Architecture what are a series of short pillars called?", "Balustrade", "other"),
        ("Curacao was a colony of which country?", "The Netherlands", "place"),
    ],
)
def test_answer_type_rules(question, answer, kind):
    assert answer_type(question, answer) == kind


@pytest.mark.parametrize(
    "answer, value",
    [("1912", (1912.0, "")), ("78%", (78.0, "%")), ("£5", (5.0, "£")), ("eight", (8.0, "")), ("Paris", None)],
)
def test_numeric_value_reads_figures_units_and_small_number_words(answer, value):
    assert numeric_value(answer) == value


def test_years_and_numbers_are_drawn_among_the_nearest_of_their_kind():
    pool = ["1066", "1905", "1910", "1914", "1915", "1945", "1989", "1912"]
    assert nearest("1912", pool, k=3) == ["1910", "1914", "1915"]
    assert nearest("50%", ["49%", "51", "80%", "10%"], k=2) == ["49%", "80%"]
    assert nearest("Paris", pool) == pool
    years = [
        _item(f"y{y}", "In what year did it happen?", str(y))
        for y in (1066, 1490, 1900, 1905, 1911, 1913, 1918, 1920, 1930)
    ]
    for item in add_fallback_beliefs(years, seed=0):
        if item.correct_answers[0] in ("1911", "1913", "1918"):
            assert int(item.wrong_belief.text) >= 1900, item.wrong_belief  # never 1066 for 1911
        assert item.wrong_belief.source == "fallback:same-type:year"


def test_a_person_question_never_draws_a_group_or_a_title():
    pool = [
        _item("a", "Who painted the Mona Lisa?", "Leonardo da Vinci"),
        _item("b", "Who wrote Hamlet?", "William Shakespeare"),
        _item("c", "Who sang She Loves You?", "The Beatles"),
        _item("d", "Which band recorded Bohemian Rhapsody?", "Queen"),
        _item("e", "Which film starred Steve McQueen in a car chase?", "Bullitt"),
    ]
    out = {i.item_id: i for i in add_fallback_beliefs(pool, seed=1)}
    assert out["triviaqa:a"].wrong_belief.text == "William Shakespeare"
    assert out["triviaqa:b"].wrong_belief.text == "Leonardo da Vinci"
    assert out["triviaqa:c"].wrong_belief.text == "Queen"
    assert out["triviaqa:e"].wrong_belief is None  # no other title: set aside, never a name


def test_overlap_counts_equal_containing_and_contained_answers():
    assert overlaps("the Paris", ["Paris"])
    assert overlaps("Paris, France", ["Paris"])
    assert overlaps("Vinci", ["Leonardo da Vinci"])
    assert not overlaps("Parisian", ["Paris"])
    assert overlaps("?!", ["Paris"])


def test_fallback_gives_a_same_kind_answer_that_matches_no_alias():
    out = {i.item_id: i for i in add_fallback_beliefs(POOL, seed=0)}
    for item in (i for i in out.values() if i.item_id != "triviaqa:o1"):  # the only "other" answer
        wrong = item.wrong_belief.text
        assert item.incorrect_answers == (wrong,)
        assert not overlaps(wrong, item.correct_answers)
        kind = item.metadata["answer_type"]
        assert item.wrong_belief.source == f"fallback:same-type:{kind}"
        donors = [p for p in POOL if p.correct_answers[0] == wrong]
        assert donors and donors[0].metadata["answer_type"] == kind
        assert item.right_belief.text == item.correct_answers[0]


def test_an_item_whose_kind_has_no_other_answer_gets_no_wrong_belief_rather_than_another_kind():
    out = {i.item_id: i for i in add_fallback_beliefs(POOL, seed=0)}
    assert out["triviaqa:o1"].wrong_belief is None and out["triviaqa:o1"].incorrect_answers == ()


def test_fallback_is_seeded():
    first = add_fallback_beliefs(POOL, seed=5)
    assert add_fallback_beliefs(POOL, seed=5) == first
    assert add_fallback_beliefs(POOL, seed=6) != first


def test_fallback_answers_on_the_shared_data_are_always_of_the_items_kind(shared_data):
    if not (shared_data / "triviaqa" / "test.jsonl").is_file():
        pytest.skip("triviaqa/test.jsonl is not in the shared data folder")
    items = load_items(TaskSource(name="triviaqa", n="all"), shared_data, seed=0)
    kinds_of_answer: dict[str, set[str]] = {}
    for i in items:
        kinds_of_answer.setdefault(i.correct_answers[0], set()).add(i.metadata["answer_type"])
    numeric = {"year", "number"}
    checked = 0
    for it in items:
        if it.wrong_belief is None:
            continue
        kind, wrong = it.metadata["answer_type"], it.wrong_belief.text
        assert kind in kinds_of_answer[wrong], (it.question, wrong)
        # a person or a place is never answered with a number, a number never with a name
        if kind in numeric:
            assert re.search(r"\d", wrong) or answer_type("", wrong) in numeric, (it.question, wrong)
        else:
            assert answer_type("", wrong) not in numeric, (it.question, wrong)
        assert not overlaps(wrong, it.correct_answers)
        checked += 1
    assert checked >= 200
    persons = [i for i in items if i.metadata["answer_type"] == "person" and i.wrong_belief]
    places = {a for a, kinds in kinds_of_answer.items() if kinds == {"place"}}
    assert len(persons) >= 50 and not any(p.wrong_belief.text in places for p in persons)


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("Claude Monet", "Claude Monet"),
        ("Answer: Claude Monet.\nBecause he painted too.", "Claude Monet"),
        ('"Raphael"', "Raphael"),
        ("Leonardo", None),
        ("Leonardo da Vinci's workshop", None),
        ("", None),
        ("It could perhaps have been painted by a number of other Renaissance artists", None),
    ],
)
def test_llm_proposals_are_cleaned_and_checked_against_every_alias(reply, expected):
    assert usable_wrong_answer(reply, POOL[0].correct_answers) == expected


def test_the_llm_hook_keeps_the_fallback_where_the_reply_is_unusable():
    items = add_fallback_beliefs(POOL[:3], seed=0)
    asked = []

    def ask(prompts):
        asked.extend(prompts)
        return ["Raphael", "Shakespeare", "Vivaldi"]

    out = propose_beliefs("triviaqa", items, ask, "llm:some-model")
    assert "Who painted the Mona Lisa?" in asked[0] and len(asked) == 3
    assert out[0].wrong_belief.text == "Raphael" and out[0].wrong_belief.source == "llm:some-model"
    assert out[0].incorrect_answers == ("Raphael",)
    assert out[1] == items[1]
    assert out[2].wrong_belief.text == "Vivaldi"


def test_tasks_without_an_llm_hook_are_left_as_they_are():
    items = add_fallback_beliefs(POOL[:2], seed=0)
    assert propose_beliefs("medqa", items, lambda prompts: ["x"] * len(prompts), "llm:m") == items
