import pytest

from warmray.stages.corpus.sharegpt import Cleaned, Rejected, clean_record


def rec(*turns, id="c1"):
    return {"id": id, "conversations": [{"from": f, "value": v} for f, v in turns]}


def roles(result):
    assert isinstance(result, Cleaned), result
    return [t["role"] for t in result.turns]


def test_sharegpt_speakers_map_to_user_and_assistant():
    for user, assistant in [("human", "gpt"), ("user", "chatgpt"), ("Human", "bard"), ("human", "bing")]:
        got = clean_record(rec((user, "q"), (assistant, "a")), max_turns=20)
        assert got == Cleaned("c1", [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}])


def test_system_turns_are_dropped():
    got = clean_record(rec(("system", "shared from X"), ("human", "q"), ("gpt", "a")), 20)
    assert roles(got) == ["user", "assistant"]


def test_leading_assistant_turn_is_dropped_and_the_rest_kept():
    got = clean_record(rec(("gpt", "answer to earlier piece"), ("human", "q"), ("gpt", "a")), 20)
    assert isinstance(got, Cleaned)
    assert [t["content"] for t in got.turns] == ["q", "a"]


def test_cut_to_max_turns_ends_on_an_assistant_turn():
    turns = [("human", f"q{i}") if i % 2 == 0 else ("gpt", f"a{i}") for i in range(10)]
    assert roles(clean_record(rec(*turns), max_turns=4)) == ["user", "assistant"] * 2
    assert roles(clean_record(rec(*turns), max_turns=5)) == ["user", "assistant"] * 2
    assert len(clean_record(rec(*turns), max_turns=20).turns) == 10


def test_unanswered_last_user_turn_is_dropped():
    got = clean_record(rec(("human", "q"), ("gpt", "a"), ("human", "thanks")), 20)
    assert roles(got) == ["user", "assistant"]


def test_content_is_kept_unchanged():
    text = "  ```python\nprint(1)\n```\n"
    got = clean_record(rec(("human", "q"), ("gpt", text)), 20)
    assert got.turns[1]["content"] == text


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ("not a dict", "malformed"),
        ({"id": "x", "conversations": "text"}, "malformed"),
        ({"id": "x", "conversations": ["text"]}, "malformed"),
        ({"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}, "missing_id"),
        (rec(("human", "q"), ("gpt", None)), "non_text"),
        (rec(("human", "q"), ("robot", "a")), "unknown_role"),
        (rec(), "empty"),
        (rec(("system", "banner"), ("gpt", "a")), "empty"),
        (rec(("human", "q")), "no_reply"),
        (rec(("human", "q"), ("human", "q2"), ("gpt", "a")), "not_alternating"),
        (rec(("human", "q"), ("gpt", "a"), ("gpt", "a2")), "not_alternating"),
        (rec(("human", "q"), ("gpt", "a"), ("human", "  \n"), ("gpt", "a2")), "empty_turn"),
    ],
)
def test_unusable_records_are_rejected_with_a_reason(record, reason):
    got = clean_record(record, max_turns=20)
    assert isinstance(got, Rejected)
    assert got.reason == reason
    assert got.detail


def test_problems_past_the_cut_do_not_reject_the_conversation():
    record = rec(("human", "q"), ("gpt", "a"), ("human", "q2"), ("human", ""))
    assert roles(clean_record(record, max_turns=2)) == ["user", "assistant"]
