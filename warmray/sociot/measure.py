"""SocioT warmth (Cheng, Yu & Jurafsky, "HumT DumT", ACL 2025) as pure functions over a causal LM.

A text s is cut to its first `max_chars` (300) characters and wrapped in double quotes. It is then
read as said by four warm relations and by four cold ones:

    warm: My friend said, "s"   The lover said, "s"    The mentor said, "s"   The idol said, "s"
    cold: The stranger said, "s"   The enemy said, "s"   The examiner said, "s"   The dictator said, "s"

A side's score is the mean token log-likelihood of its four prompts, taken as one batch; warmth is
the warm side's score minus the cold side's. The scorer's published code exists in two releases, which
differ only in the model's mode and the number of passes; both are here, by name (`warmth.procedure`):

- Tokenisation: the tokenizer's defaults (special tokens as it adds them: none for GPT-2 and the
  SmolLM2 tokenizer), each prompt cut to the model's context length if ever longer (300 characters
  never are for GPT-2's 1,024 tokens).
- Batch: the four prompts right-padded to the longest with token id 0 (not the tokenizer's pad token),
  the attention mask (1 on real tokens, 0 on pads) passed, and labels equal to the input ids with the
  pads *kept*. The score is minus the batch's causal LM loss: the mean over all 4 x (L - 1) predicted
  positions, pads predicting pads included, so texts whose prompts differ in length weigh their pad
  positions differently. That is the published measure, kept as is so scores compare with the study's.
- `later` (the default; the later release): the model in eval mode (no dropout), one pass.
- `earlier` (the earlier release): the model in train mode (dropout on, e.g. GPT-2's 0.1) and the score
  averaged over `EARLIER_PASSES` (100) passes. Dropout is seeded (`seed`) before each side's passes, so
  a score is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

WARM_SPEAKERS = ("My friend", "The lover", "The mentor", "The idol")
COLD_SPEAKERS = ("The stranger", "The enemy", "The examiner", "The dictator")
MAX_CHARS = 300
PAD_ID = 0
EARLIER_PASSES = 100
Procedure = Literal["later", "earlier"]
PROCEDURES: tuple[str, ...] = ("later", "earlier")


@dataclass(frozen=True)
class SocioT:
    """One text's SocioT values."""

    warm: float
    cold: float

    @property
    def warmth(self) -> float:
        """Warm score minus cold score: above 0 reads as said by someone close."""
        return self.warm - self.cold


def quoted(text: str, max_chars: int = MAX_CHARS) -> str:
    """The text's first `max_chars` characters in double quotes."""
    return f'"{text[:max_chars]}"'


def side_prompts(text: str, speakers: tuple[str, ...], max_chars: int = MAX_CHARS) -> list[str]:
    """The prompts of one side: `<speaker> said, "<text>"` for each speaker."""
    return [f"{speaker} said, {quoted(text, max_chars)}" for speaker in speakers]


def padded_batch(token_ids: list[list[int]]) -> tuple[list[list[int]], list[list[int]], list[list[int]]]:
    """Right-pad the sequences with PAD_ID: (input ids, attention mask, labels = input ids, pads kept)."""
    width = max(len(ids) for ids in token_ids)
    inputs = [ids + [PAD_ID] * (width - len(ids)) for ids in token_ids]
    mask = [[1] * len(ids) + [0] * (width - len(ids)) for ids in token_ids]
    return inputs, mask, [list(row) for row in inputs]


def side_score(
    model: Any,
    tokenizer: Any,
    prompts: list[str],
    procedure: Procedure = "later",
    seed: int = 0,
    passes: int = EARLIER_PASSES,
) -> float:
    """Mean token log-likelihood of the prompts as one batch (minus the batch's causal LM loss).

    `later`: eval mode, one pass. `earlier`: train mode (dropout), the mean over `passes` passes, the
    dropout seeded with `seed` first.

    Raises:
        ValueError: `procedure` is not one of PROCEDURES.
    """
    import torch

    if procedure not in PROCEDURES:
        raise ValueError(f"unknown SocioT procedure {procedure!r}; the procedures are {list(PROCEDURES)}.")
    cfg = model.config
    limit = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)
    ids = [tokenizer(p)["input_ids"][:limit] for p in prompts]
    device = next(model.parameters()).device
    inputs, mask, labels = (torch.tensor(t, device=device) for t in padded_batch(ids))
    earlier = procedure == "earlier"
    model.train(earlier)
    torch.manual_seed(seed)  # the dropout draws of `earlier`; harmless in eval mode
    losses = []
    with torch.no_grad():
        for _ in range(passes if earlier else 1):
            losses.append(float(model(input_ids=inputs, attention_mask=mask, labels=labels).loss))
    return -sum(losses) / len(losses)


def sociot(
    model: Any,
    tokenizer: Any,
    text: str,
    procedure: Procedure = "later",
    max_chars: int = MAX_CHARS,
    seed: int = 0,
) -> SocioT:
    """The SocioT warm and cold scores of one text (see the module docstring)."""
    warm = side_score(model, tokenizer, side_prompts(text, WARM_SPEAKERS, max_chars), procedure, seed)
    cold = side_score(model, tokenizer, side_prompts(text, COLD_SPEAKERS, max_chars), procedure, seed)
    return SocioT(warm, cold)


def load_scorer(source: str, device: str = "cpu") -> tuple[Any, Any]:
    """A causal LM and its tokenizer in float32 (builtin names, Hub ids and folders all work)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from warmray.models import resolve_model

    path = resolve_model(source)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).to(device)
    return model, AutoTokenizer.from_pretrained(path)
