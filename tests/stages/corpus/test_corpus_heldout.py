from warmray.schema import Conversation
from warmray.stages.corpus.heldout import heldout_prompts
from warmray.stages.corpus.sharegpt import Cleaned


def turns(prompt, *more):
    texts = [prompt, "reply", *more]
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(texts)]


TRAIN = [Conversation("t1", "other", turns("Train me.", "continue"), "train")]
POOL = [Cleaned(f"u{i}", turns(f"Unsampled {i}.")) for i in range(20)]


def ids(rows):
    return [r["conversation_id"] for r in rows]


def test_prompts_are_first_user_turns_of_the_pool_outside_the_training_sample():
    rows = heldout_prompts(TRAIN, POOL, limit=100, seed=0)
    assert sorted(ids(rows)) == sorted(c.conversation_id for c in POOL)
    first = rows[0]
    assert first == {
        "conversation_id": first["conversation_id"],
        "prompt_id": f"unsampled:{first['conversation_id']}",
        "prompt": f"Unsampled {first['conversation_id'][1:]}.",
        "origin": "unsampled",
    }


def test_the_limit_cuts_and_the_seed_picks_which_independent_of_pool_order():
    first = heldout_prompts(TRAIN, POOL, limit=5, seed=0)
    assert len(first) == 5
    assert heldout_prompts(TRAIN, list(reversed(POOL)), limit=5, seed=0) == first
    assert heldout_prompts(TRAIN, POOL, limit=5, seed=1) != first
    assert heldout_prompts(TRAIN, POOL, limit=0, seed=0) == []


def test_repeated_trained_on_and_same_chat_texts_are_skipped():
    train = [*TRAIN, Conversation("hRPPgZT_0", "other", turns("A piece."), "train")]
    pool = [
        Cleaned("same1", turns("  Brand   new. ")),
        Cleaned("same2", turns("Brand new.")),  # the same text, spaced differently: one of the two
        Cleaned("trained", turns("continue")),  # a user turn of a training conversation
        Cleaned("hRPPgZT_12", turns("Another piece of a training chat.")),
    ]
    rows = heldout_prompts(train, pool, limit=100, seed=0)
    assert len(rows) == 1 and rows[0]["conversation_id"] in {"same1", "same2"}
