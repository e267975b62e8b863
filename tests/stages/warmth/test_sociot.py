"""SocioT against a direct computation with transformers: log-softmax, gather, average by hand."""

import json

import pytest
import torch

from warmray.stages.warmth import command as sociot_command
from warmray.stages.warmth.sociot import (
    COLD_SPEAKERS,
    WARM_SPEAKERS,
    padded_batch,
    side_prompts,
    side_score,
    sociot,
)

TEXTS = ["Thanks so much, you're doing great!", "Submit form 7B by noon. " * 20, "ok"]


@pytest.fixture(scope="module")
def scorer():
    """A tiny random GPT-2 with dropout 0.1, as GPT-2 small has, on SmolLM2's tokenizer (offline)."""
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from warmray.models import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("builtin:tiny-random"))
    cfg = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=2, n_positions=512)
    cfg.bos_token_id = cfg.eos_token_id = tokenizer.eos_token_id
    torch.manual_seed(0)
    return GPT2LMHeadModel(cfg), tokenizer


def direct_score(model, tokenizer, prompts, keep_pads, seed=0):
    """Mean log p(token | prefix) over a right-padded (id 0) batch, computed from the logits by hand."""
    ids = [tokenizer(p)["input_ids"] for p in prompts]
    width = max(map(len, ids))
    batch = torch.tensor([x + [0] * (width - len(x)) for x in ids])
    real = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in ids])
    model.train(keep_pads)
    torch.manual_seed(seed)
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=batch).logits[:, :-1].double(), dim=-1)
    picked = logp.gather(-1, batch[:, 1:, None])[..., 0]
    counted = torch.ones_like(picked) if keep_pads else real[:, 1:].double()
    return float((picked * counted).sum() / counted.sum())


def test_prompts_quote_the_first_300_characters():
    warm = side_prompts("x" * 400 + "tail", WARM_SPEAKERS)
    assert warm[0] == 'My friend said, "' + "x" * 300 + '"'
    assert [p.split(" said")[0] for p in side_prompts("hi", COLD_SPEAKERS)] == list(COLD_SPEAKERS)


def test_padding_uses_id_0_and_the_published_labels_keep_pads():
    inputs, labels = padded_batch([[5, 6, 7], [8]], "published")
    assert inputs == [[5, 6, 7], [8, 0, 0]] and labels == inputs
    _, masked = padded_batch([[5, 6, 7], [8]], "pad_masked")
    assert masked == [[5, 6, 7], [8, -100, -100]]


# Batches as the scorer sees them: one side of a text (SmolLM2's tokenizer gives the four speakers equal
# lengths) and a ragged batch, where the right-padding with id 0 and its place in the labels matter.
BATCHES = [side_prompts(t, WARM_SPEAKERS) for t in TEXTS] + [
    side_prompts(TEXTS[2], COLD_SPEAKERS),
    ['My friend said, "ok"', 'The lover said, "' + TEXTS[1][:120] + '"', 'The idol said, "Thanks!"'],
]


@pytest.mark.parametrize("prompts", BATCHES)
def test_both_procedures_match_the_direct_computation(scorer, prompts):
    model, tokenizer = scorer
    got = side_score(model, tokenizer, prompts, "published", seed=3)
    assert got == pytest.approx(direct_score(model, tokenizer, prompts, True, seed=3), abs=1e-5)
    got = side_score(model, tokenizer, prompts, "pad_masked")
    assert got == pytest.approx(direct_score(model, tokenizer, prompts, False), abs=1e-5)


def test_the_ragged_batch_is_really_padded(scorer):
    _, tokenizer = scorer
    assert len({len(tokenizer(p)["input_ids"]) for p in BATCHES[-1]}) > 1


def test_published_score_is_seeded_train_mode_and_differs_from_pad_masked(scorer):
    model, tokenizer = scorer
    text = TEXTS[0]
    first, again = sociot(model, tokenizer, text, seed=1), sociot(model, tokenizer, text, seed=1)
    assert first == again  # dropout draws are seeded
    assert sociot(model, tokenizer, text, seed=2) != first  # ...and dropout is really on
    masked = sociot(model, tokenizer, text, "pad_masked")
    assert masked.warmth != pytest.approx(first.warmth)
    assert first.warmth == pytest.approx(first.warm - first.cold)


def test_command_prints_one_json_line_per_text(tmp_path, capsys):
    texts = tmp_path / "texts.jsonl"
    texts.write_text("\n".join(json.dumps({"text": t}) for t in TEXTS[:2]) + "\n\n")
    parser = __import__("argparse").ArgumentParser()
    sociot_command.add_arguments(parser)
    args = parser.parse_args([str(texts), "--scorer", "builtin:tiny-random", "--procedure", "pad_masked"])
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
