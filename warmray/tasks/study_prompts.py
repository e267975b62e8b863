"""The study's own prompt files as a grid source: their `prompt` text sent verbatim, their answers graded.

A task in `grid.tasks` whose `source` is such a file (JSON Lines or CSV; detected by its columns, see
`is_study_prompt_file`) skips the loader and the prompt building: each row becomes one grid row with the
study's prompt as it was sent. Layouts (the study's output CSVs carry the same input columns):

- TriviaQA / TruthfulQA: `content_key, correct_answer, incorrect_answer, prompt_template, prompt,
  amendment_type`.
- MASK disinformation: `belief_elicit_1, ground_truth, ground_false, proposition, prompt_disinfo, prompt,
  prompt_template, amendment_type`.
- MedQA (its output CSVs): `original_question, answer, wrong_answer, prompt_type, prompt, amendment_type`.

The item is the row's key (`content_key`, `prompt_disinfo` or `original_question`), so the 28 variants
of one item share an `item_id`; its reference answers are the row's (`correct_answer` /
`incorrect_answer`, MASK `ground_truth` / `ground_false`, MedQA `answer` / `wrong_answer`; a cell that
holds a list literal is read as a list). A belief prompt's `belief_answer` is the side it states, with
`belief_source` "study-prompts". A row with an unknown template or amendment type, a blank prompt, key or
answer, or a repeated (item, template, amendment) is counted and set aside with its reason.
`complete_items` counts the items that have all the variants the grid asks for.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from warmray.schema import (
    AMENDMENT_ALIASES,
    AMENDMENT_TYPES,
    BELIEF_TEMPLATES,
    PROMPT_TEMPLATES,
    Col,
    PromptRow,
    Reject,
)
from warmray.tasks.common import BadRow
from warmray.tasks.source import read_csv, read_jsonl

SOURCE = "study-prompts"  # the belief_source of every belief read from such a file
# A file is in the study's prompt layout when its first row has all of these.
LAYOUT_COLUMNS = ("prompt", Col.AMENDMENT_TYPE)
TEMPLATE_COLUMNS = (Col.PROMPT_TEMPLATE, "prompt_type")
KEY_COLUMNS = ("content_key", "prompt_disinfo", "original_question")
QUESTION_COLUMNS = ("question", "belief_elicit_1", "original_question", "content_key")
# (correct column, wrong column): the first pair a row carries.
ANSWER_COLUMNS = (
    ("correct_answer", "incorrect_answer"),
    ("ground_truth", "ground_false"),
    ("answer", "wrong_answer"),
)
_MAX_KEY = 64  # longer keys (a question's whole text) become a short hash in the item id


def _read(path: Path) -> Iterable[dict[str, Any] | BadRow]:
    return read_csv(path) if path.suffix.lower() == ".csv" else read_jsonl(path)


def is_study_prompt_file(path: str | Path | None) -> bool:
    """True when `path` is a local file whose first row has the study's prompt columns.

    The columns: `prompt`, `amendment_type`, a template column (`prompt_template` or `prompt_type`) and
    an item key (`content_key`, `prompt_disinfo` or `original_question`).
    """
    if (
        path is None
        or not Path(path).is_file()
        or Path(path).suffix.lower() not in (".jsonl", ".json", ".csv")
    ):
        return False
    first = next((r for r in _read(Path(path)) if isinstance(r, dict)), None)
    if first is None:
        return False
    return (
        all(c in first for c in LAYOUT_COLUMNS)
        and any(c in first for c in TEMPLATE_COLUMNS)
        and any(c in first for c in KEY_COLUMNS)
    )


def _text(row: dict[str, Any], names: Sequence[str]) -> str:
    """The first non-blank of the named cells, stripped; "" when none."""
    for name in names:
        value = row.get(name)
        if value is not None and str(value).strip():
            return str(value).strip()
    return ""


def _answers(value: str) -> list[str]:
    """A cell's answers: a list literal ("['Paris', 'paris']") read as a list, else the one text."""
    if value.startswith("[") and value.endswith("]"):
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parsed = None
        if isinstance(parsed, list):
            return [str(a).strip() for a in parsed if str(a).strip()]
    return [value] if value else []


def item_id(task: str, key: str) -> str:
    """A stable item id from the row's key: the key itself when short, else a hash of it."""
    if len(key) <= _MAX_KEY and "|" not in key:
        return f"{task}:{key}"
    return f"{task}:study-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:12]}"


def parse_row(row: dict[str, Any], task: str) -> PromptRow:
    """One row of a study prompt file as a grid row; BadRow when it cannot be used."""
    template = _text(row, TEMPLATE_COLUMNS)
    amendment = AMENDMENT_ALIASES.get(_text(row, (Col.AMENDMENT_TYPE,)), _text(row, (Col.AMENDMENT_TYPE,)))
    if template not in PROMPT_TEMPLATES:
        raise BadRow(f"prompt template {template!r} is not one of {list(PROMPT_TEMPLATES)}")
    if amendment not in AMENDMENT_TYPES:
        raise BadRow(f"amendment type {amendment!r} is not one of {list(AMENDMENT_TYPES)}")
    key, prompt = _text(row, KEY_COLUMNS), _text(row, ("prompt",))
    if not key or not prompt:
        raise BadRow("blank item key or prompt")
    pair = next((p for p in ANSWER_COLUMNS if _text(row, p[:1])), None)
    correct = _answers(_text(row, pair[:1])) if pair else []
    wrong = _answers(_text(row, pair[1:])) if pair else []
    if not correct:
        raise BadRow(f"no correct answer (one of {[p[0] for p in ANSWER_COLUMNS]})")
    belief = {"incorrect": wrong[:1], "correct": correct[:1]}.get(template, [])
    if template in BELIEF_TEMPLATES and not belief:
        raise BadRow(f"an {template} prompt without the answer it states")
    the_id = item_id(task, key)
    return PromptRow(
        prompt_id=f"{the_id}|{template}|{amendment}",
        item_id=the_id,
        task=task,
        prompt_template=template,
        amendment_type=amendment,
        prompt=prompt,
        question=_text(row, QUESTION_COLUMNS),
        correct_answers=correct,
        incorrect_answers=wrong,
        belief_answer=belief[0] if belief else "",
        belief_source=SOURCE if belief else "",
    )


def read_study_prompts(path: str | Path, task: str) -> tuple[list[PromptRow], list[Reject]]:
    """Every usable row of a study prompt file as a grid row, and a reject for each row set aside."""
    rows: list[PromptRow] = []
    rejects: list[Reject] = []
    seen: set[str] = set()
    for index, raw in enumerate(_read(Path(path))):
        try:
            if isinstance(raw, BadRow):
                raise raw
            row = parse_row(raw, task)
            if row.prompt_id in seen:
                raise BadRow(f"repeats {row.prompt_id}")
        except BadRow as e:
            rejects.append(Reject("grid", f"{task}:row{index}", "bad study prompt row", f"{path}: {e}"))
            continue
        seen.add(row.prompt_id)
        rows.append(row)
    return rows, rejects


def complete_items(rows: Iterable[PromptRow], variants: Sequence[tuple[str, str]]) -> int:
    """How many items have a row for every (template, amendment) pair in `variants`."""
    want = set(variants)
    have: dict[str, set[tuple[str, str]]] = {}
    for r in rows:
        have.setdefault(r.item_id, set()).add((r.prompt_template, r.amendment_type))
    return sum(want <= pairs for pairs in have.values())
