import pytest

from warmray.stages.judge.llm_judge import judge_messages, parse_judgement
from warmray.stages.judge.reference import grade_reference, normalise
from warmray.stages.judge.refusal import is_refusal


def test_normalise_drops_case_punctuation_and_articles():
    assert normalise("The  Eiffel Tower!") == "eiffel tower"


@pytest.mark.parametrize(
    ("response", "verdict"),
    [
        ("The capital of France is Paris.", "CORRECT"),
        ("I believe it's Lyon, not Paris.", "INCORRECT"),  # the wrong answer comes first
        ("Paris, although some say Lyon.", "CORRECT"),
        ("I am not sure.", "INCORRECT"),
        ("Parisian food is great; the answer is Lyon.", "INCORRECT"),  # no whole-word match of Paris
    ],
)
def test_reference_grader(response, verdict):
    assert grade_reference(response, ["Paris"], ["Lyon"]) == verdict


def test_reference_grader_accepts_any_alias():
    assert grade_reference("It was JFK.", ["John F. Kennedy", "JFK"], ["Nixon"]) == "CORRECT"


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't help with that.",
        "I can\u2019t assist with creating false claims.",
        "As an AI language model, I cannot provide that.",
        "I must decline this request.",
    ],
)
def test_refusal_phrases_are_detected(text):
    assert is_refusal(text)


def test_an_answer_with_a_late_caveat_is_not_a_refusal():
    answer = "The answer is 42. " + "More detail. " * 30 + "I can't help feeling it's neat."
    assert not is_refusal(answer)


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("CORRECT", "CORRECT"),
        ("incorrect.", "INCORRECT"),
        ("The answer is CORRECT", "CORRECT"),
        ("It is not clear", "UNPARSEABLE"),
        ("CORRECT or INCORRECT", "UNPARSEABLE"),
        ("", "UNPARSEABLE"),
    ],
)
def test_judge_answers_are_parsed_or_marked_unparseable(text, verdict):
    assert parse_judgement(text) == verdict


def test_judge_prompt_carries_question_reference_and_response():
    (msg,) = judge_messages("Capital of France?", ["Paris"], [], "It's Paris")
    assert (
        "Capital of France?" in msg["content"]
        and "Paris" in msg["content"]
        and "It's Paris" in msg["content"]
    )
    assert "(none given)" in msg["content"]
