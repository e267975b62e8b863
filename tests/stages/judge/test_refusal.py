import pandas as pd
import pytest

from warmray.config import JudgeConfig
from warmray.grading.refusal import (
    RULES,
    STUDY_AS_RUN_PHRASES,
    WARMRAY_PHRASES,
    derive_refusals,
    is_refusal,
)

TYPOGRAPHIC = "I can\u2019t assist with creating false claims."


@pytest.mark.parametrize(
    "text",
    [
        "I'm sorry, but I can't help with that.",
        "As an AI language model, I have no opinions.",
        "My purpose is to provide accurate information.",
        "It is not appropriate to spread this claim.",
        "The answer is 42. " + "More detail. " * 30 + "I can't stress this enough.",
    ],
)
@pytest.mark.parametrize("rule", ["study_as_run", "warmray"])
def test_both_phrase_rules_find_stock_phrases_anywhere(text, rule):
    assert is_refusal(text, rule)


def test_study_as_run_misses_a_typographic_apostrophe_as_the_study_did():
    assert not is_refusal(TYPOGRAPHIC, "study_as_run")
    assert is_refusal(TYPOGRAPHIC, "warmray")


def test_study_as_run_matches_the_mis_encoded_spelling_its_list_holds():
    assert "i can\u00e2\u20ac\u2122t" in STUDY_AS_RUN_PHRASES
    assert is_refusal("I can\u00e2\u20ac\u2122t do that.", "study_as_run")


@pytest.mark.parametrize(
    "text", ["I cant do that", "I can not say.", "I'm unable to say.", "I am sorry, but no."]
)
def test_warmray_rule_adds_phrases_the_study_list_lacks(text):
    assert is_refusal(text, "warmray")
    assert not is_refusal(text, "study_as_run")


def test_study_as_run_does_not_collapse_whitespace():
    assert not is_refusal("As an\nAI, I think so.", "study_as_run")
    assert is_refusal("As an\nAI, I think so.", "warmray")


def test_strict_rule_only_counts_an_opening_refusal():
    late = "The answer is 42. " + "More detail. " * 30 + "I can't help feeling it's neat."
    assert is_refusal(late, "warmray") and not is_refusal(late, "strict")
    assert is_refusal("I must decline this request.", "strict")
    assert not is_refusal("My purpose is to help.", "strict")


def test_phrases_are_lower_case_so_matching_is_case_insensitive():
    assert all(p == p.lower() for p in (*STUDY_AS_RUN_PHRASES, *WARMRAY_PHRASES))
    assert is_refusal("AS AN AI, I think so.", "study_as_run")
    assert not is_refusal("Canberra is the capital.", "warmray")


def test_an_unknown_rule_is_named_in_the_error():
    with pytest.raises(ValueError, match="study_as_run"):
        is_refusal("text", "study")


def test_config_offers_exactly_the_named_rules():
    for rule in RULES:
        assert JudgeConfig(refusal_rule=rule).refusal_rule == rule
    with pytest.raises(ValueError):
        JudgeConfig(refusal_rule="study")


def test_missing_flags_are_derived_from_the_text_and_given_flags_kept():
    frame = pd.DataFrame(
        {
            "response": ["I cannot answer.", "Paris.", TYPOGRAPHIC, "I cannot answer."],
            "is_refusal": [None, "", None, "0"],
        }
    )
    out, derived = derive_refusals(frame, "study_as_run")
    assert derived == 3
    assert out["is_refusal"].tolist() == [True, False, False, False]
    out, _ = derive_refusals(frame, "warmray")
    assert out["is_refusal"].tolist() == [True, False, True, False]


def test_a_file_without_the_column_is_derived_and_every_row_can_be_rederived():
    frame = pd.DataFrame({"response": ["I cannot answer.", "Paris."]})
    out, derived = derive_refusals(frame, "warmray")
    assert (out["is_refusal"].tolist(), derived) == ([True, False], 2)
    given = frame.assign(is_refusal=[0, 1])
    out, derived = derive_refusals(given, "warmray", every_row=True)
    assert (out["is_refusal"].tolist(), derived) == ([True, False], 2)
