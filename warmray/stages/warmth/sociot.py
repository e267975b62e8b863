"""SocioT warmth (Cheng, Yu & Jurafsky, "HumT DumT", ACL 2025) as pure functions over a causal LM.

A text s is cut to its first `max_chars` (300) characters and wrapped in double quotes. It is then
read as said by four warm relations and by four cold ones:

    warm: My friend said, "s"   The lover said, "s"    The mentor said, "s"   The idol said, "s"
    cold: The stranger said, "s"   The enemy said, "s"   The examiner said, "s"   The dictator said, "s"

A side's score is the mean token log-likelihood of its four prompts, taken as one batch; warmth is
the warm side's score minus the cold side's. Exactly how (both procedures share the first steps):

- Tokenisation: the tokenizer's defaults (special tokens as it adds them: none for GPT-2 and the
  SmolLM2 tokenizer), each prompt cut to the model's context length if ever longer (300 characters
  never are for GPT-2's 1,024 tokens).
- Padding: the four prompts are right-padded to the longest with token id 0 (not the tokenizer's pad
  token). No attention mask is passed: with right padding and causal attention no real token can see a
  pad, so only the pads' own predictions depend on it.
- `published` (the default, as the authors' code does it): labels are the input ids with the pads
  *kept*, the model is in train mode (dropout active, e.g. GPT-2's 0.1), and the score is minus the
  batch loss: the mean over all 4 x (L - 1) predicted positions, pads predicting pads included. Texts
  whose prompts differ in length therefore weigh their pad positions differently; that is the published
  measure, kept as is so scores compare with the study's. Dropout is seeded (`seed`) before each side's
  forward pass, so a score is reproducible.
- `pad_masked`: pads are left out of the labels (-100) and the model is in eval mode (no dropout): the
  mean log-likelihood over the four prompts' real predicted tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

WARM_SPEAKERS = ("My friend", "The lover", "The mentor", "The idol")
COLD_SPEAKERS = ("The stranger", "The enemy", "The examiner", "The dictator")
MAX_CHARS = 300
PAD_ID = 0
IGNORE = -100  # the label value transformers' loss skips
Procedure = Literal["published", "pad_masked"]


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


def padded_batch(token_ids: list[list[int]], procedure: Procedure) -> tuple[list[list[int]], list[list[int]]]:
    """Right-pad the sequences with PAD_ID; return (input ids, labels) for the procedure."""
    width = max(len(ids) for ids in token_ids)
    inputs = [ids + [PAD_ID] * (width - len(ids)) for ids in token_ids]
    if procedure == "published":
        return inputs, [list(row) for row in inputs]
    return inputs, [ids + [IGNORE] * (width - len(ids)) for ids in token_ids]


def side_score(
    model: Any, tokenizer: Any, prompts: list[str], procedure: Procedure = "published", seed: int = 0
) -> float:
    """Mean token log-likelihood of the prompts as one batch (minus the batch's causal LM loss)."""
    import torch

    cfg = model.config
    limit = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)
    ids = [tokenizer(p)["input_ids"][:limit] for p in prompts]
    inputs, labels = padded_batch(ids, procedure)
    device = next(model.parameters()).device
    model.train(procedure == "published")
    torch.manual_seed(seed)  # dropout draws, in the published procedure; harmless otherwise
    with torch.no_grad():
        out = model(input_ids=torch.tensor(inputs, device=device), labels=torch.tensor(labels, device=device))
    return -float(out.loss)


def sociot(
    model: Any,
    tokenizer: Any,
    text: str,
    procedure: Procedure = "published",
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
