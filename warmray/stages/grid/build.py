"""Grid rows from items: the 28 prompt variants of each item (pure; no files but the prompt files).

The shapes follow the study's prompt files (the wording is warmray's, in warmray/prompts/templates.yaml):

- `original` + `unmodified`: the bare question; `original` + a context: the statement, then the question.
- `original_neutral` (unmodified only): the neutral lead-in, then the question.
- `incorrect` / `correct`, unmodified or under a context: [statement] lead-in question belief-clause,
  the clause "I think the answer is {wrong}." / "I don't think the answer is {right}.", or, for items
  whose beliefs are propositions (MASK), the proposition as what the user told their friends.
  Two exceptions: under a `stake:*` context the stake statement takes the place of the lead-in
  (statement, question, belief), and MedQA belief prompts have no lead-in at all (statement, the case
  told about the user's relative, belief).

On the belief prompts an item's `user_question` (MedQA: the case told as the user's relative) replaces
the question when `user_question` is on; `original` and `original_neutral` keep the question as the
source words it. Each prompt's context statement is drawn from its context's pool with a generator
seeded by (run seed, prompt id): two prompts of one item and context can get different statements, and
a prompt's draw does not depend on the other items, the sample size or the task list. Each row records
the form its question took (`question_form`) and how its belief was made (`belief_source`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from warmray.prompt_files import prompt_path, read_prompt_yaml
from warmray.schema import (
    AMENDMENT_ALIASES,
    AMENDMENT_TYPES,
    BELIEF_TEMPLATES,
    NO_CONTEXT,
    Belief,
    EvalItem,
    PromptRow,
    Reject,
    prompt_variants,
)
from warmray.seeded import stable_rng
from warmray.stage import StageError
from warmray.tasks import BELIEF_PROBLEM, RELATIVE_PROBLEM

CONTEXTS_FILE = "contexts.yaml"
USER_SPEAKS = ("original_neutral", *BELIEF_TEMPLATES)
STAKE_PREFIX = "stake:"  # contexts whose statement replaces the lead-in on belief prompts
NO_LEAD_IN_TASKS = ("medqa",)  # tasks whose belief prompts have no lead-in (the case is the user's own)


@dataclass(frozen=True)
class Wording:
    """The phrasings of templates.yaml."""

    neutral_lead_in: str
    incorrect: str
    correct: str
    incorrect_proposition: str
    correct_proposition: str

    def clause(self, template: str, item: EvalItem, belief: Belief) -> str:
        """The sentence stating the user's belief for a belief template."""
        # The phrasing ends the sentence: an answer's own final full stop ("D.C.") would double it.
        text = belief.text.strip().removesuffix(".")
        if item.belief_form == "proposition":
            phrasing = self.incorrect_proposition if template == "incorrect" else self.correct_proposition
            return phrasing.format(proposition=text)
        phrasing = self.incorrect if template == "incorrect" else self.correct
        return phrasing.format(answer=text)


def load_wording() -> Wording:
    """The packaged prompt phrasings."""
    return Wording(**read_prompt_yaml("templates.yaml"))


def load_contexts(name: str | None = None) -> dict[str, tuple[str, ...]]:
    """Context statements: amendment type -> its pool (a file in the format of contexts.yaml).

    Args:
        name: a path to the user's own file, or None for the packaged statements.

    Raises:
        StageError: the file is missing, or not a mapping of known amendment types to lists of
            non-empty statements.
    """
    name = name or CONTEXTS_FILE
    path = prompt_path(name)
    if not Path(path).is_file():
        raise StageError(f"grid.contexts: {path} not found (a YAML file in the format of {CONTEXTS_FILE}).")
    data = read_prompt_yaml(name)
    if not isinstance(data, dict):
        raise StageError(f"{path}: expected a mapping of amendment type -> list of statements.")
    out: dict[str, tuple[str, ...]] = {}
    for key, pool in data.items():
        amendment = AMENDMENT_ALIASES.get(str(key), str(key))
        if amendment not in AMENDMENT_TYPES or amendment == NO_CONTEXT:
            raise StageError(f"{path}: {key!r} is not a context; valid: {list(AMENDMENT_TYPES[1:])}.")
        if not isinstance(pool, list) or not pool or not all(isinstance(s, str) and s.strip() for s in pool):
            raise StageError(f"{path}: {key!r} must be a non-empty list of non-empty statements.")
        out[amendment] = tuple(s.strip() for s in pool)
    return out


def unusable_reason(
    item: EvalItem, templates: Sequence[str], as_relative: bool = True, beliefs: bool = True
) -> Reject | None:
    """Why `item` cannot fill every requested template (a grid Reject), or None when it can.

    An item lacks a belief its belief template needs (the loader's `belief_problem` metadata, where
    it set one, says why), or, with `as_relative` on and a belief template requested, it is a MedQA
    stem the loader could not tell as the user's relative (`relative_problem`). `beliefs=False` checks
    only the latter.
    """
    pairs = (("incorrect", item.wrong_belief), ("correct", item.right_belief)) if beliefs else ()
    lacking = [t for t, b in pairs if t in templates and (b is None or not b.text.strip())]
    if lacking:
        why = item.metadata.get(BELIEF_PROBLEM) or (
            f"wrong answers {list(item.incorrect_answers)[:5]} vs correct {list(item.correct_answers)[:5]}"
        )
        return Reject("grid", item.item_id, f"no belief answer for {'/'.join(lacking)}", str(why))
    problem = item.metadata.get(RELATIVE_PROBLEM)
    if as_relative and problem and any(t in templates for t in BELIEF_TEMPLATES):
        return Reject("grid", item.item_id, "stem cannot be told as the user's relative", str(problem))
    return None


def split_usable(
    items: Sequence[EvalItem], templates: Sequence[str], as_relative: bool = True, beliefs: bool = True
) -> tuple[list[EvalItem], list[Reject]]:
    """Items that can fill every requested template, and a reject for each one that cannot."""
    kept, rejects = [], []
    for it in items:
        reject = unusable_reason(it, templates, as_relative, beliefs)
        if reject is None:
            kept.append(it)
        else:
            rejects.append(reject)
    return kept, rejects


def _join(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())


def _lead_in(template: str, amendment: str, item: EvalItem, wording: Wording) -> str:
    """The neutral lead-in a prompt opens its question with, or "" (the exceptions: module docstring)."""
    if template not in USER_SPEAKS:
        return ""
    if template in BELIEF_TEMPLATES and (amendment.startswith(STAKE_PREFIX) or item.task in NO_LEAD_IN_TASKS):
        return ""
    return wording.neutral_lead_in


def _item_rows(
    item: EvalItem,
    pairs: list[tuple[str, str]],
    contexts: Mapping[str, Sequence[str]],
    seed: int,
    wording: Wording,
    user_question: bool,
) -> list[PromptRow]:
    """The grid rows of one item."""
    told = user_question and bool(item.user_question)
    beliefs = {"incorrect": item.wrong_belief, "correct": item.right_belief}
    rows = []
    for template, amendment in pairs:
        prompt_id = f"{item.item_id}|{template}|{amendment}"
        recast = told and template in BELIEF_TEMPLATES
        belief = beliefs.get(template)
        if template in BELIEF_TEMPLATES and belief is None:
            raise ValueError(f"{item.item_id} has no {template} belief; set it aside with split_usable first")
        body = _join(
            _lead_in(template, amendment, item, wording),
            item.user_question if recast else item.question,
            wording.clause(template, item, belief) if belief is not None else "",
        )
        statement = (
            stable_rng(seed, "context", prompt_id).choice(contexts[amendment])
            if amendment != NO_CONTEXT
            else ""
        )
        rows.append(
            PromptRow(
                prompt_id=prompt_id,
                item_id=item.item_id,
                task=item.task,
                prompt_template=template,
                amendment_type=amendment,
                prompt=_join(statement, body),
                question=item.question,
                correct_answers=list(item.correct_answers),
                incorrect_answers=list(item.incorrect_answers),
                belief_answer=belief.text if belief is not None else "",
                context_statement=statement,
                belief_source=belief.source if belief is not None else "",
                question_form=item.user_question_form if recast else "as_given",
            )
        )
    return rows


def build_grid(
    items: Sequence[EvalItem],
    templates: Sequence[str],
    amendments: Sequence[str],
    contexts: Mapping[str, Sequence[str]],
    seed: int,
    wording: Wording | None = None,
    user_question: bool = True,
) -> list[PromptRow]:
    """Every prompt variant of every item (pure: no files but the packaged wording, when not given).

    Args:
        items: the items; each must carry the beliefs its belief templates need (see `split_usable`).
        templates: prompt templates to build (original, original_neutral, incorrect, correct).
        amendments: amendment types to build (unmodified and/or the context names).
        contexts: each context's pool of statements.
        seed: the run seed; each prompt's context statement is a draw seeded by it and the prompt id.
        wording: the phrasings; None reads warmray/prompts/templates.yaml.
        user_question: use an item's `user_question` on its belief prompts (MedQA as a relative).

    Returns:
        Rows in item order, then template order, then amendment order.
    """
    pairs = prompt_variants(templates, amendments)
    missing = sorted({a for _, a in pairs if a != NO_CONTEXT and not contexts.get(a)})
    if missing:
        raise ValueError(f"no context statements for {missing}; add them to the contexts file")
    wording = wording or load_wording()
    return [row for it in items for row in _item_rows(it, pairs, contexts, seed, wording, user_question)]
