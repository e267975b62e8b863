"""SocioT against a direct computation with transformers: log-softmax, gather, average by hand."""

import json

import pytest
import torch

from warmray import sociot_texts as sociot_command
from warmray.sociot.measure import (
    COLD_SPEAKERS,
    WARM_SPEAKERS,
    padded_batch,
    side_prompts,
    side_score,
    sociot,
)

TEXTS = ["Thanks so much, you're doing great!", "Submit form 7B by noon. " * 20, "ok"]


class ByteTokenizer:
    """One token per UTF-8 byte (ids 1-256; 0 is the pad id): prompts of different lengths pad differently."""

    def __call__(self, text):
        return {"input_ids": [b + 1 for b in text.encode()]}


@pytest.fixture(scope="module")
def scorer():
    """A tiny random GPT-2 with dropout 0.1 everywhere, as GPT-2 small has, over a byte vocabulary.

    One torch thread: a model this small spends a shared machine's second thread waiting on the first.
    """
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(
        vocab_size=257,
        n_embd=32,
        n_layer=2,
        n_head=2,
        n_positions=512,
        resid_pdrop=0.1,
        embd_pdrop=0.1,
        attn_pdrop=0.1,
        bos_token_id=256,
        eos_token_id=256,
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield GPT2LMHeadModel(cfg), ByteTokenizer()
    torch.set_num_threads(threads)


def direct_score(model, tokenizer, prompts, train, passes, seed=0, mask=True):
    """Mean log p(token | prefix) over a right-padded (id 0) batch, pads kept, by hand from the logits.

    The loop the published code's loss amounts to: pad with 0, pass the attention mask, predict every
    next position (pads too), average the log-probabilities; in train mode, again `passes` times.
    """
    ids = [tokenizer(p)["input_ids"] for p in prompts]
    width = max(map(len, ids))
    batch = torch.tensor([x + [0] * (width - len(x)) for x in ids])
    real = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids])
    model.train(train)
    torch.manual_seed(seed)
    scores = []
    with torch.no_grad():
        for _ in range(passes):
            logits = model(input_ids=batch, attention_mask=real if mask else None).logits
            logp = torch.log_softmax(logits[:, :-1].double(), dim=-1)
            picked = logp.gather(-1, batch[:, 1:, None])[..., 0]
            scores.append(float(picked.mean()))
    return sum(scores) / len(scores)


def test_prompts_quote_the_first_300_characters():
    warm = side_prompts("x" * 400 + "tail", WARM_SPEAKERS)
    assert warm[0] == 'My friend said, "' + "x" * 300 + '"'
    assert [p.split(" said")[0] for p in side_prompts("hi", COLD_SPEAKERS)] == list(COLD_SPEAKERS)


def test_padding_uses_id_0_masks_the_pads_and_keeps_them_in_the_labels():
    inputs, mask, labels = padded_batch([[5, 6, 7], [8]])
    assert inputs == [[5, 6, 7], [8, 0, 0]] and labels == inputs
    assert mask == [[1, 1, 1], [1, 0, 0]]


# Batches as the scorer sees them: one side of a text (its four speakers' names differ in length, so even
# these pad) and ragged batches of very different lengths, where the padding and the labels matter.
BATCHES = [side_prompts(t, WARM_SPEAKERS) for t in TEXTS] + [
    side_prompts(TEXTS[2], COLD_SPEAKERS),
    ['My friend said, "ok"', 'The lover said, "' + TEXTS[1][:120] + '"', 'The idol said, "Thanks!"'],
    ['The stranger said, "a"', 'The enemy said, "' + TEXTS[0] + '"'],
]


@pytest.mark.parametrize("prompts", BATCHES)
def test_later_procedure_matches_the_direct_computation(scorer, prompts):
    model, tokenizer = scorer
    got = side_score(model, tokenizer, prompts, "later")
    assert got == pytest.approx(direct_score(model, tokenizer, prompts, train=False, passes=1), abs=1e-5)


@pytest.mark.parametrize("prompts", BATCHES[-1:])
def test_earlier_procedure_matches_the_direct_computation_over_100_passes(scorer, prompts):
    model, tokenizer = scorer
    got = side_score(model, tokenizer, prompts, "earlier", seed=3)
    expected = direct_score(model, tokenizer, prompts, train=True, passes=100, seed=3)
    assert got == pytest.approx(expected, abs=1e-5)
    one_pass = direct_score(model, tokenizer, prompts, train=True, passes=1, seed=3)
    assert got != pytest.approx(one_pass, abs=1e-5)  # really the mean of many dropout draws


def test_the_ragged_batches_are_really_padded_and_the_mask_matters(scorer):
    model, tokenizer = scorer
    for prompts in BATCHES[-2:]:
        assert len({len(tokenizer(p)["input_ids"]) for p in prompts}) > 1
        unmasked = direct_score(model, tokenizer, prompts, train=False, passes=1, mask=False)
        assert side_score(model, tokenizer, prompts, "later") != pytest.approx(unmasked, abs=1e-5)


def test_later_is_deterministic_and_earlier_is_seeded_with_dropout_on(scorer):
    model, tokenizer = scorer
    prompts = side_prompts("Glad to help!", WARM_SPEAKERS)
    later = side_score(model, tokenizer, prompts, "later", seed=1)
    assert side_score(model, tokenizer, prompts, "later", seed=2) == later  # eval mode: no dropout
    first, again = (side_score(model, tokenizer, prompts, "earlier", seed=1, passes=2) for _ in range(2))
    assert first == again  # dropout draws are seeded
    assert side_score(model, tokenizer, prompts, "earlier", seed=2, passes=2) != first  # dropout is on
    assert first != pytest.approx(later)


def test_warmth_is_the_warm_side_minus_the_cold_side(scorer):
    model, tokenizer = scorer
    found = sociot(model, tokenizer, "Glad to help!", "later")
    assert found.warm == side_score(model, tokenizer, side_prompts("Glad to help!", WARM_SPEAKERS))
    assert found.cold == side_score(model, tokenizer, side_prompts("Glad to help!", COLD_SPEAKERS))
    assert found.warmth == pytest.approx(found.warm - found.cold)


def test_an_unknown_procedure_is_named(scorer):
    model, tokenizer = scorer
    with pytest.raises(ValueError, match="later"):
        side_score(model, tokenizer, ["a"], "published")


def test_bare_and_org_gpt2_ids_pass_the_model_check():
    from warmray.models import check_model_source

    assert check_model_source("gpt2") is None
    assert check_model_source("openai-community/gpt2") is None
    assert "neither" in check_model_source("gpt3")


def test_warmth_config_offers_the_two_published_procedures():
    from warmray.config import WarmthConfig

    assert WarmthConfig().procedure == "later"
    assert WarmthConfig(procedure="earlier").procedure == "earlier"
    with pytest.raises(ValueError):
        WarmthConfig(procedure="published")


def test_command_prints_one_json_line_per_text(tmp_path, capsys):
    texts = tmp_path / "texts.jsonl"
    texts.write_text("\n".join(json.dumps({"text": t}) for t in TEXTS[:2]) + "\n\n")
    parser = __import__("argparse").ArgumentParser()
    sociot_command.add_arguments(parser)
    args = parser.parse_args([str(texts), "--scorer", "builtin:tiny-random", "--procedure", "later"])
    assert sociot_command.command(args) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["text"] for x in lines] == TEXTS[:2]
    for x in lines:
        assert x["sociot"] == pytest.approx(x["warm"] - x["cold"]) and x["warm"] < 0


def test_command_names_the_bad_line(tmp_path, capsys):
    texts = tmp_path / "texts.jsonl"
    texts.write_text('{"text": "fine"}\n{"body": "no text"}\n')
    parser = __import__("argparse").ArgumentParser()
    sociot_command.add_arguments(parser)
    assert sociot_command.command(parser.parse_args([str(texts)])) == 2
    assert "texts.jsonl:2" in capsys.readouterr().err


def test_command_refuses_a_scorer_that_is_no_model_in_one_paragraph(tmp_path, capsys):
    texts = tmp_path / "texts.jsonl"
    texts.write_text('{"text": "fine"}\n')
    parser = __import__("argparse").ArgumentParser()
    sociot_command.add_arguments(parser)
    assert sociot_command.command(parser.parse_args([str(texts), "--scorer", "not a model"])) == 2
    assert "--scorer" in capsys.readouterr().err
