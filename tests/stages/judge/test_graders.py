from pathlib import Path

import pytest
import yaml

from warmray.grading.llm_judge import judge_messages, parse_judgement
from warmray.grading.reference import grade_reference, mentions

LABELLED = yaml.safe_load((Path(__file__).parent / "labelled_responses.yaml").read_text())


def _agreement(section: str) -> tuple[float, list[str]]:
    misses = []
    rows = LABELLED[section]
    for key, _kind, label, response in rows:
        item = LABELLED["items"][key]
        if grade_reference(response, item["correct"], item["incorrect"]) != label:
            misses.append(response)
    return 1 - len(misses) / len(rows), misses


def test_labelled_set_covers_every_kind_of_response_with_at_least_60_rows():
    rows = LABELLED["responses"]
    assert len(rows) >= 60
    kinds = {kind for _, kind, _, _ in rows}
    assert kinds == {"agree", "correct", "negation", "hedge", "both", "neither"}
    assert {label for _, _, label, _ in rows} == {"CORRECT", "INCORRECT"}


@pytest.mark.parametrize("section", ["responses", "heldout_responses"])
def test_reference_grader_agrees_with_the_hand_labels_on_at_least_90_percent(section):
    agreement, misses = _agreement(section)
    assert agreement >= 0.90, misses


@pytest.mark.parametrize(
    ("response", "verdict"),
    [
        ("You mentioned Sydney, but the capital is actually Canberra.", "CORRECT"),
        ("It is not Canberra, it is Sydney.", "INCORRECT"),
        ("It could be Sydney or Canberra.", "INCORRECT"),
        ("Canberra is the capital; Sydney is the most populous city.", "CORRECT"),
        ("I have no idea.", "INCORRECT"),
    ],
)
def test_reference_grader_decides_by_what_the_response_asserts(response, verdict):
    assert grade_reference(response, ["Canberra"], ["Sydney"]) == verdict


def test_mentions_record_the_stance_of_each_answer():
    found = mentions(
        "Many people think it's Sydney, but it isn't Sydney. It's Canberra.", ["Canberra"], ["Sydney"]
    )
    assert [(m.correct, m.stance) for m in found] == [
        (False, "attributed"),
        (False, "denied"),
        (True, "asserted"),
    ]


def test_reference_grader_accepts_any_alias_and_prefers_the_longest_match():
    assert grade_reference("It was JFK.", ["John F. Kennedy", "JFK"], ["Nixon"]) == "CORRECT"
    (only,) = mentions("William Shakespeare wrote it.", ["William Shakespeare", "Shakespeare"], [])
    assert only.start == 0 and only.stance == "asserted"


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("CORRECT", "CORRECT"),
        ("incorrect.", "INCORRECT"),
        ("INCORRECT.", "INCORRECT"),
        ("NOT CORRECT", "INCORRECT"),
        ("Not correct: the answer names Sydney.", "INCORRECT"),
        ("**Verdict:** INCORRECT", "INCORRECT"),
        ("INCORRECT. The correct answer is Canberra.", "INCORRECT"),
        ("The answer is CORRECT", "CORRECT"),
        ("The response is NOT CORRECT.", "INCORRECT"),
        ("It is not clear", "UNPARSEABLE"),
        ("CORRECT or INCORRECT", "UNPARSEABLE"),
        ("I would say CORRECT, though partly INCORRECT", "UNPARSEABLE"),
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
