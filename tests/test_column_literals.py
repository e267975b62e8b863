"""The study's column names are written `Col.X` (warmray.schema) in the package, never as string literals.

A literal column name is a rename waiting to be missed and a typo that selects a missing column; with one
name per column in schema.py, a rename is one edit and a typo fails where it is read.
"""

from __future__ import annotations

import ast
from pathlib import Path

import warmray
from warmray.schema import ANALYSIS_COLUMNS, VOCABULARY, Col

PACKAGE = Path(warmray.__file__).parent

# The guarded columns: those the analysis needs (ANALYSIS_COLUMNS), those whose values the schema checks
# (VOCABULARY), and checkpoint, is_refusal and epoch, which mean the same in every table that has them.
# `model` is in Col and used for the column, but not guarded: the same word is a config key and value
# (judge, toxicity), the OpenAI request's field and a torch state-dict key, which a literal cannot tell
# apart from the column without an allow-list longer than the rule.
GUARDED = (
    Col.TASK,
    Col.ITEM_ID,
    Col.VARIANT,
    Col.CHECKPOINT,
    Col.PROMPT_TEMPLATE,
    Col.AMENDMENT_TYPE,
    Col.QUESTION_FORM,
    Col.RESPONSE,
    Col.IS_REFUSAL,
    Col.VERDICT,
    Col.STYLE,
    Col.EPOCH,
)
# (file under warmray/, name, why that file's literal is not the column). Keep it under 10 entries.
ALLOWED = (
    ("training/loop.py", Col.EPOCH, "the training log's progress metric, not a column"),
    ("sweep/space.py", Col.EPOCH, "the config key evaluate.epoch in a trial's config, not a column"),
)
_ALLOWED = {(rel, name) for rel, name, _ in ALLOWED}


def column_literals(source: str, names: tuple[str, ...] = GUARDED) -> list[tuple[int, str]]:
    """(line, name) of each string constant in `source` equal to one of `names`.

    Prose is not code: docstrings and the text of f-strings are skipped (a name inside an f-string's
    braces is code and counts), and so is `__all__`, which names Python objects (`is_refusal`).
    """
    tree = ast.parse(source)
    prose: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                prose.add(id(first.value))
        if isinstance(node, ast.JoinedStr):
            prose.update(id(part) for part in node.values if isinstance(part, ast.Constant))
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
            prose.update(id(n) for n in ast.walk(node.value))
    found = [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in names and id(node) not in prose
    ]
    return sorted(found)


def _package_literals() -> list[tuple[str, int, str]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel != "schema.py":  # the table schemas there are the definitions themselves
            out += [(rel, line, name) for line, name in column_literals(path.read_text())]
    return out


def test_no_study_column_name_is_a_string_literal_in_the_package():
    bad = [
        f"warmray/{rel}:{line}: {name!r}"
        for rel, line, name in _package_literals()
        if (rel, name) not in _ALLOWED
    ]
    assert not bad, "write these as Col.<NAME> from warmray.schema:\n" + "\n".join(bad)


def test_the_allow_list_is_short_and_every_entry_still_needed():
    assert len(ALLOWED) < 10
    assert all(reason.strip() for *_, reason in ALLOWED), "each allowed literal says why"
    used = {(rel, name) for rel, _, name in _package_literals()}
    stale = sorted(_ALLOWED - used)
    assert not stale, f"allow-list entries with no literal left (remove them): {stale}"


def test_guarded_names_cover_the_analysis_and_vocabulary_columns_except_model():
    assert {*ANALYSIS_COLUMNS, *VOCABULARY} - set(GUARDED) == {Col.MODEL}


def test_a_literal_column_name_in_code_is_found_and_prose_is_not():
    source = '''"""Reads the variant column."""
__all__ = ["is_refusal"]


def f(frame, v):
    """Rows of one verdict."""
    label = f"the variant {v} has {frame['verdict'].size} rows"
    return frame[frame["variant"] == v], frame[Col.PROMPT_TEMPLATE], label
'''
    assert column_literals(source) == [(7, "verdict"), (8, "variant")]
