"""MMLU (test, all 57 subjects): four-option multiple choice, for the capability check.

Local layout (the original data tarball): `mmlu/test/<subject>_test.csv`, no header, columns
question, A, B, C, D, answer letter. Hub rows (cais/mmlu, config "all") carry `choices` and an answer
index; they are mapped to the same columns. Both list subjects alphabetically, so an item's id,
"mmlu:<subject>:<position in the whole test split>", is the same either way. Correct answer: the
letter; wrong answers: the other letters; the option texts are in `metadata["choices"]` (A-D order).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from warmray.schema import EvalItem
from warmray.tasks.common import BadRow, required
from warmray.tasks.source import Loader, Row, SourceSpec, read_csv

LETTERS = ("A", "B", "C", "D")
_COLUMNS = ["question", *LETTERS, "answer"]
# Where a model names its choice, most explicit first. A letter must stand alone ("A." or "(A)", not the
# "A" of "A cat"), except after an explicit cue such as "answer is" or "Answer:".
_CUED = re.compile(
    r"(?i:answer|option|choice)\s*(?i:is|would be|:)?\s*(?i:option\s*)?[\(\[*]*([A-D])\b(?![\w'])"
)
_LEADING = re.compile(r"^\W*\(?([A-D])(?:[\).:\]]|\s*$|\s+-)")
_MARKED = re.compile(r"(?:\(([A-D])\)|\b([A-D])[\).:](?:\s|$)|\*\*([A-D])\*\*)")


def read_folder(path: Path) -> Iterator[Row]:
    """Rows of every `<subject>_test.csv` under `path` (or its `test/` folder), or of one such file."""
    if path.is_file():
        files = [path]
    else:
        folder = path / "test" if (path / "test").is_dir() else path
        files = sorted(folder.glob("*_test.csv"))
        if not files:
            raise FileNotFoundError(f"{folder}: no <subject>_test.csv files")
    for file in files:
        subject = file.name.removesuffix("_test.csv")
        for row in read_csv(file, fieldnames=_COLUMNS):
            yield row if isinstance(row, BadRow) else {**row, "subject": subject}


def from_hf(row: dict[str, Any]) -> dict[str, Any]:
    """A Hub row (`choices` list, integer `answer`) under the CSV's columns."""
    choices = list(row.get("choices") or [])
    answer = row.get("answer")
    letter = LETTERS[answer] if isinstance(answer, int) and 0 <= answer < len(LETTERS) else ""
    return {
        "question": row.get("question"),
        **dict(zip(LETTERS, choices, strict=False)),
        "answer": letter,
        "subject": row.get("subject") or "",
    }


def parse(row: dict[str, Any], index: int) -> EvalItem:
    """One MMLU row as an item."""
    question = required(row, "question")
    choices = [required(row, letter) for letter in LETTERS]
    answer = required(row, "answer").upper()
    if answer not in LETTERS:
        raise BadRow(f"answer {answer!r} is not one of A-D")
    subject = row.get("subject") or "unknown"
    return EvalItem(
        item_id=f"mmlu:{subject}:{index}",
        task="mmlu",
        question=question,
        correct_answers=(answer,),
        incorrect_answers=tuple(x for x in LETTERS if x != answer),
        metadata={"subject": subject, "choices": choices},
    )


def extract_letter(response: str, choices: Sequence[str] = ()) -> str:
    """The option letter a free-text answer picks, or "" when it names none or several.

    In order: an explicit cue ("The answer is C", "Answer: (B)"; the last one wins, as models restate
    after reasoning); a letter opening the response ("B. Paris", "(C)"); a single distinct letter marked
    as an option anywhere ("(A)", "D)", "**B**"); a single option whose full text the response contains.
    """
    text = response.strip()
    cued = _CUED.findall(text)
    if cued:
        return cued[-1]
    leading = _LEADING.match(text)
    if leading:
        return leading.group(1)
    marked = {next(g for g in m if g) for m in _MARKED.findall(text)}
    if len(marked) == 1:
        return marked.pop()
    lowered = text.lower()
    named = [letter for letter, c in zip(LETTERS, choices, strict=False) if c and c.lower() in lowered]
    return named[0] if len(named) == 1 else ""


def grade(response: str, item: EvalItem) -> tuple[str, float]:
    """(the letter read from the response, 1.0 if it is the item's answer else 0.0)."""
    letter = extract_letter(response, item.metadata.get("choices", ()))
    return letter, float(letter == item.correct_answers[0])


LOADER = Loader(
    task="mmlu",
    spec=SourceSpec(
        "cais/mmlu", "all", "test", "mmlu", read_folder, from_hf, demo="capability/mmlu/demo_test.csv"
    ),
    parse=parse,
)
