from warmray.schema import Conversation
from warmray.stages.corpus.heldout import heldout_prompts
from warmray.stages.corpus.sharegpt import Cleaned


def turns(prompt, *more):
    texts = [prompt, "reply", *more]
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(texts)]


def conversation(cid, split, prompt, *more):
    return Conversation(cid, "other", turns(prompt, *more), split)


SAMPLED = [
    conversation("t1", "train", "Train me.", "continue"),
    conversation("v1", "val", "First val."),
    conversation("v2", "val", "Second val."),
]
UNSAMPLED = [Cleaned(f"u{i}", turns(f"Unsampled {i}.")) for i in range(20)]


def ids(rows):
    return [r["conversation_id"] for r in rows]


def test_val_prompts_come_first_in_split_order_then_unsampled_ones():
    rows = heldout_prompts(SAMPLED, ["v2", "v1"], UNSAMPLED, limit=100, seed=0)
    assert ids(rows)[:2] == ["v2", "v1"] and len(rows) == 22
    assert rows[0] == {
        "conversation_id": "v2",
        "prompt_id": "val:v2",
        "prompt": "Second val.",
        "origin": "val",
    }
    assert {r["origin"] for r in rows[2:]} == {"unsampled"}
    assert rows[2]["prompt_id"] == f"unsampled:{rows[2]['conversation_id']}"


def test_the_limit_cuts_unsampled_prompts_first_and_the_seed_picks_which():
    first = heldout_prompts(SAMPLED, ["v1", "v2"], UNSAMPLED, limit=5, seed=0)
    assert ids(first)[:2] == ["v1", "v2"] and len(first) == 5
    assert heldout_prompts(SAMPLED, ["v1", "v2"], list(reversed(UNSAMPLED)), limit=5, seed=0) == first
    assert heldout_prompts(SAMPLED, ["v1", "v2"], UNSAMPLED, limit=5, seed=1) != first
    assert ids(heldout_prompts(SAMPLED, ["v1", "v2"], UNSAMPLED, limit=1, seed=0)) == ["v1"]
    assert heldout_prompts(SAMPLED, ["v1", "v2"], UNSAMPLED, limit=0, seed=0) == []


def test_repeated_and_trained_on_texts_are_skipped():
    unsampled = [
        Cleaned("same", turns("  First   val. ")),  # the text of v1, spaced differently
        Cleaned("trained", turns("continue")),  # a user turn of a training conversation
        Cleaned("t1", turns("A training id.")),  # never taken from a training conversation
        Cleaned("new", turns("Brand new.")),
    ]
    rows = heldout_prompts(SAMPLED, ["v1", "v2"], unsampled, limit=100, seed=0)
    assert ids(rows) == ["v1", "v2", "new"]
