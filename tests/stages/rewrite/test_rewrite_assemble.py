"""The warm and cold models train on the same conversations: those that passed in every style."""

import pandas as pd

from warmray.stages.rewrite import assemble, passed_everywhere


def _conversations() -> pd.DataFrame:
    turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    return pd.DataFrame(
        [
            {"conversation_id": c, "category": "other", "turns": turns, "split": "train", "source": "t"}
            for c in ("a", "b", "c")
        ]
    )


def _graded() -> pd.DataFrame:
    # b fails its cold rewrite, c its warm rewrite; only a passes in both styles
    reasons = {("a", "warm"): "", ("a", "cold"): "", ("b", "warm"): "", ("b", "cold"): "too_short"}
    reasons |= {("c", "warm"): "refusal", ("c", "cold"): ""}
    return pd.DataFrame(
        [
            {"conversation_id": c, "turn_index": 1, "style": s, "rewrite": f"{s} hello", "reason": r}
            for (c, s), r in reasons.items()
        ]
    )


def test_every_style_trains_on_the_conversations_that_passed_in_all_styles():
    shared = passed_everywhere(_graded(), ("warm", "cold"))
    assert shared == {"a"}
    warm, warm_rejects = assemble(_conversations(), _graded(), "warm", shared)
    cold, cold_rejects = assemble(_conversations(), _graded(), "cold", shared)
    assert list(warm["conversation_id"]) == list(cold["conversation_id"]) == ["a"]
    assert warm["turns"].iloc[0][1]["content"] == "warm hello"
    assert {(r.row_id, r.reason) for r in warm_rejects} == {
        ("b:warm", "failed_in_another_style"),
        ("c:warm", "turn_failed"),
    }
    assert {(r.row_id, r.reason) for r in cold_rejects} == {
        ("b:cold", "turn_failed"),
        ("c:cold", "failed_in_another_style"),
    }


def test_one_style_alone_keeps_everything_that_passed_in_it():
    assert passed_everywhere(_graded(), ("warm",)) == {"a", "b"}
