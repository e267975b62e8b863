import sys
import types

import pytest

from warmray.config import EngineConfig, SamplingConfig
from warmray.tasks.triviaqa import (
    add_fallback_wrong_answers,
    answer_type,
    overlaps,
    parse,
    propose_wrong_answers,
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
        ("How many make a gross?", "one hundred and forty four", "other"),
        ("Who wrote Hamlet?", "Shakespeare", "person"),
        ("Which author wrote Emma?", "Jane Austen", "person"),
        ("Which river flows through Cairo?", "Nile", "place"),
        ("What is the hardest natural mineral?", "Diamond", "other"),
    ],
)
def test_answer_type_rules(question, answer, kind):
    assert answer_type(question, answer) == kind


def test_overlap_counts_equal_containing_and_contained_answers():
    assert overlaps("the Paris", ["Paris"])
    assert overlaps("Paris, France", ["Paris"])
    assert overlaps("Vinci", ["Leonardo da Vinci"])
    assert not overlaps("Parisian", ["Paris"])
    assert overlaps("?!", ["Paris"])


def test_fallback_gives_a_same_type_answer_that_matches_no_alias():
    out = {i.item_id: i for i in add_fallback_wrong_answers(POOL, seed=0)}
    for item in (i for i in out.values() if i.item_id != "triviaqa:o1"):  # the only "other" answer
        (wrong,) = item.incorrect_answers
        assert not overlaps(wrong, item.correct_answers)
        assert item.metadata["wrong_answer_source"] == "fallback:same-type"
        donors = [p for p in POOL if p.correct_answers[0] == wrong]
        assert donors and donors[0].metadata["answer_type"] == item.metadata["answer_type"]


def test_fallback_uses_any_type_when_the_type_has_no_other_answer():
    out = {i.item_id: i for i in add_fallback_wrong_answers(POOL, seed=0)}
    assert out["triviaqa:o1"].metadata["wrong_answer_source"] == "fallback:any-type"
    assert out["triviaqa:o1"].incorrect_answers[0] != "Diamond"


def test_fallback_is_seeded_and_an_item_alone_gets_none():
    first = add_fallback_wrong_answers(POOL, seed=5)
    assert add_fallback_wrong_answers(POOL, seed=5) == first
    assert add_fallback_wrong_answers(POOL[:1], seed=5)[0].incorrect_answers == ()


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


def test_propose_wrong_answers_keeps_the_fallback_where_the_reply_is_unusable(monkeypatch):
    items = add_fallback_wrong_answers(POOL[:3], seed=0)
    calls = []

    def complete(messages, model, engine, sampling):
        calls.append(messages)
        return ["Raphael", "Shakespeare", "Vivaldi"]

    monkeypatch.setitem(sys.modules, "warmray.infer", types.SimpleNamespace(complete=complete))
    out = propose_wrong_answers(items, "some-model", EngineConfig(), SamplingConfig())
    assert "Who painted the Mona Lisa?" in calls[0][0][0]["content"]
    assert (
        out[0].incorrect_answers == ("Raphael",)
        and out[0].metadata["wrong_answer_source"] == "llm:some-model"
    )
    assert out[1] == items[1]
    assert out[2].incorrect_answers == ("Vivaldi",)
