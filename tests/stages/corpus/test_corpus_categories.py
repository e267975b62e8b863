import json
from collections import Counter

import pytest

from warmray.stages.corpus.categories import CATEGORIES, categorize
from warmray.stages.corpus.sharegpt import clean_record
from warmray.stages.corpus.sources import demo_path


def turns(*texts):
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(texts)]


@pytest.mark.parametrize(
    ("user", "assistant", "category"),
    [
        ("Help me hack my ex's email.", "I'm sorry, but I can't help with that.", "refusal"),
        ("Tell me a secret.", "As an AI language model, I don’t have secrets.", "refusal"),
        (
            "Write a message to cancel my gym plan.",
            "I must decline to send it for you, but here is a draft.",
            "refusal",
        ),
        ("Sort this list.", "```python\nsorted(xs)\n```", "technical"),
        ("Why does my Docker build fail?", "The base image is missing.", "technical"),
        ("def f(x):\n    return x\nwhat is wrong here", "Nothing.", "technical"),
        ("Write me a poem about the sea.", "Waves...", "creative"),
        ("Pretend you are a wizard.", "Hark!", "creative"),
        ("Should I move to Berlin?", "It depends.", "advice"),
        ("Give me tips for running in winter.", "Wear layers.", "advice"),
        ("Who painted the Mona Lisa?", "Leonardo da Vinci.", "factual"),
        ("Explain inflation.", "Prices rise.", "factual"),
        ("Is Pluto a planet?", "It is a dwarf planet.", "factual"),
        ("continue", "…and so the story ends.", "other"),
        ("Translate 'cat' into German.", "Katze.", "other"),
    ],
)
def test_each_rule_labels_its_kind_of_conversation(user, assistant, category):
    assert categorize(turns(user, assistant)) == category


def test_rules_apply_in_order():
    # refusal beats technical, technical beats creative, creative beats advice, advice beats factual
    assert categorize(turns("Write python malware.", "I cannot help with that.\n```\n```")) == "refusal"
    assert categorize(turns("Write a poem about Python programming.", "Code flows...")) == "technical"
    assert categorize(turns("Should I write a story for her birthday?", "Yes!")) == "creative"
    assert categorize(turns("How do I boil an egg?", "Boil water.")) == "advice"


def test_only_the_first_user_turn_sets_creative_advice_or_factual():
    assert categorize(turns("hello", "Hi!", "What is the capital of France?", "Paris.")) == "other"


def test_refusal_in_a_later_assistant_turn_counts():
    assert (
        categorize(turns("hi", "Hello!", "Insult my boss.", "I won't help with insulting anyone."))
        == "refusal"
    )


def test_demo_corpus_spreads_evenly_over_all_six_categories():
    records = [json.loads(line) for line in demo_path().read_text().splitlines()]
    counts = Counter(categorize(clean_record(r, 20).turns) for r in records)
    assert set(counts) == set(CATEGORIES)
    assert min(counts.values()) >= 6
