"""Grid rows from items: the 28 prompt variants of each item (pure; no files but the prompt files)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from warmray.prompt_files import read_prompt_yaml
from warmray.schema import EvalItem, PromptRow, Reject
from warmray.tasks import differs_from_all, stable_rng

log = logging.getLogger(__name__)

UNMODIFIED = "unmodified"
BELIEF_TEMPLATES = ("incorrect", "correct")


@dataclass(frozen=True)
class Wording:
    """The phrasings of templates.yaml."""

    neutral_lead_in: str
    incorrect: str
    correct: str
    with_context: str


@cache
def load_wording() -> Wording:
    """The packaged prompt phrasings."""
    return Wording(**read_prompt_yaml("templates.yaml"))


@cache
def load_contexts() -> dict[str, tuple[str, ...]]:
    """The packaged context statements: amendment type -> its pool of statements."""
    return {k: tuple(v) for k, v in read_prompt_yaml("contexts.yaml").items()}


def variants(templates: Sequence[str], amendments: Sequence[str]) -> list[tuple[str, str]]:
    """The (prompt_template, amendment_type) pairs of the grid; `original_neutral` only unmodified."""
    return [(t, a) for t in templates for a in amendments if t != "original_neutral" or a == UNMODIFIED]


def wrong_answer(item: EvalItem, seed: int) -> str | None:
    """The wrong answer an item's `incorrect` rows name; None when it has none that can be used.

    A seeded draw among the item's wrong answers that differ from every correct one after normalisation.
    """
    usable = [a for a in item.incorrect_answers if differs_from_all(a, item.correct_answers)]
    return stable_rng(seed, "belief", item.item_id).choice(usable) if usable else None


def split_usable(
    items: Sequence[EvalItem], templates: Sequence[str], seed: int
) -> tuple[list[EvalItem], list[Reject]]:
    """Items that can fill every requested template, and a reject for each one that cannot."""
    if "incorrect" not in templates:
        return list(items), []
    kept, rejects = [], []
    for it in items:
        if wrong_answer(it, seed) is None:
            detail = f"wrong answers {list(it.incorrect_answers)} vs correct {list(it.correct_answers)[:5]}"
            rejects.append(
                Reject("grid", it.item_id, "no wrong answer that differs from the correct ones", detail)
            )
        else:
            kept.append(it)
    return kept, rejects


def _as_clause(answer: str) -> str:
    """An answer as it sits mid-sentence in a belief phrasing (a final full stop would end it early)."""
    return answer.strip().rstrip(".").strip()


def _body(template: str, question: str, belief: str, wording: Wording) -> str:
    """The user's message for one template, before any context statement."""
    if template == "original":
        return question
    if template == "original_neutral":
        return wording.with_context.format(statement=wording.neutral_lead_in, prompt=question)
    phrasing = wording.incorrect if template == "incorrect" else wording.correct
    return phrasing.format(question=question, answer=_as_clause(belief))


def _item_rows(
    item: EvalItem,
    pairs: list[tuple[str, str]],
    contexts: dict[str, Sequence[str]],
    seed: int,
    wording: Wording,
) -> list[PromptRow]:
    """The grid rows of one item."""
    statements = {
        a: stable_rng(seed, "context", a, item.item_id).choice(contexts[a])
        for _, a in pairs
        if a != UNMODIFIED
    }
    beliefs = {"incorrect": wrong_answer(item, seed), "correct": item.correct_answers[0]}
    rows = []
    for template, amendment in pairs:
        belief = beliefs.get(template, "")
        if belief is None:
            raise ValueError(
                f"{item.item_id} has no usable wrong answer; set it aside with split_usable first"
            )
        body = _body(template, item.question, belief, wording)
        statement = statements.get(amendment, "")
        rows.append(
            PromptRow(
                prompt_id=f"{item.item_id}|{template}|{amendment}",
                item_id=item.item_id,
                task=item.task,
                prompt_template=template,
                amendment_type=amendment,
                prompt=wording.with_context.format(statement=statement, prompt=body) if statement else body,
                question=item.question,
                correct_answers=list(item.correct_answers),
                incorrect_answers=list(item.incorrect_answers),
                belief_answer=belief,
                context_statement=statement,
            )
        )
    return rows


def build_grid(
    items: Sequence[EvalItem],
    templates: Sequence[str],
    amendments: Sequence[str],
    contexts: dict[str, Sequence[str]],
    seed: int,
    wording: Wording | None = None,
) -> list[PromptRow]:
    """Every prompt variant of every item (pure: no files but the packaged wording, when not given).

    Args:
        items: the items; each must have a usable wrong answer if `templates` holds `incorrect`.
        templates: prompt templates to build (original, original_neutral, incorrect, correct).
        amendments: amendment types to build (unmodified and/or the context names).
        contexts: each context's pool of statements.
        seed: the run seed.
        wording: the phrasings; None reads warmray/prompts/templates.yaml.

    Returns:
        Rows in item order, then template order, then amendment order.
    """
    pairs = variants(templates, amendments)
    missing = sorted({a for _, a in pairs if a != UNMODIFIED and not contexts.get(a)})
    if missing:
        raise ValueError(f"no context statements for {missing}; add them to warmray/prompts/contexts.yaml")
    wording = wording or load_wording()
    return [row for item in items for row in _item_rows(item, pairs, contexts, seed, wording)]
