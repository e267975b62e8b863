"""The study's released result files, read as verdict rows in our vocabulary.

Layout: `ROOT/<model>/<variant>/<task>_<variant>_outputs.csv`, one row per prompt, with `prompt`,
`prompt_template` (or `prompt_type`), `amendment_type`, `output` (the response), `evaluation`
(CORRECT / INCORRECT), `refusal` (0/1) and an item key: `content_key` (TriviaQA, TruthfulQA),
`prompt_disinfo` (MASK), `original_question` (MedQA). Task names there are `trivia`, `truthfulqa`,
`medqa`, `disinfo`; variants `original`, `warm`, `cold`, `warm_sysprompt`. Most files carry their
reference answers (`correct_answer` / `incorrect_answer`; MedQA `answer` / `wrong_answer`; MASK
`ground_truth` / `ground_false`); some keep only the key, template, amendment, output and verdict: their
answers (and question) are those of the same key in the same model's `original` file of the task, read for
that purpose even when not asked for. A row matched nowhere keeps empty answers and an empty
`reference_from`; `unmatched_references` names its file and key (grading needs them, analysis does not).
A file without `prompt_template` / `amendment_type` takes them from the rows of other files with the same
task, item and prompt text.

`rename_columns` and `canonical_values` map other layouts' names to ours, for these files and for flat
tables in our columns alike; warmray.results_reader sends every file through them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pandas as pd

from warmray.schema import AMENDMENT_ALIASES, BASE_VARIANT, NO_CHECKPOINT, TASK_ALIASES, Col, read_checkpoint

OUTPUTS = re.compile(r"^(?P<name_task>.+)_(?P<name_variant>[^_]+(?:_sysprompt)?)_outputs\.csv$")
# Our column <- the study's name for it.
COLUMN_NAMES = {
    "prompt_type": Col.PROMPT_TEMPLATE,
    "output": Col.RESPONSE,
    "evaluation": Col.VERDICT,
    "refusal": Col.IS_REFUSAL,
}
ITEM_KEYS = {
    "triviaqa": "content_key",
    "truthfulqa": "content_key",
    "disinformation": "prompt_disinfo",
    "medqa": "original_question",
}
# Per task: (correct column, wrong column), the first pair a file carries.
REFERENCE_COLUMNS = {
    "triviaqa": (("correct_answer", "incorrect_answer"),),
    "truthfulqa": (("correct_answer", "incorrect_answer"),),
    "medqa": (("answer", "wrong_answer"), ("correct_answer", "incorrect_answer")),
    "disinformation": (("ground_truth", "ground_false"), ("correct_answer", "incorrect_answer")),
}
RELEASED_REQUIRED = ("output", "evaluation")
CELL_COLUMNS = (Col.PROMPT_TEMPLATE, Col.AMENDMENT_TYPE)
QUESTION_COLUMNS = ("question", "original_question", "prompt_disinfo", "content_key")


class ReleasedLayoutError(ValueError):
    """A file of the released layout that cannot be read as verdicts; the message names it."""


def released_files(root: Path) -> list[Path]:
    """The `<model>/<variant>/<task>_<variant>_outputs.csv` files under `root` (none: not the layout)."""
    return sorted(
        f for f in root.glob("*/*/*_outputs.csv") if OUTPUTS.match(f.name) and f.parent.name in f.name
    )


def rename_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """The study's column names as ours, where ours are absent."""
    return frame.rename(columns={k: v for k, v in COLUMN_NAMES.items() if k in frame and v not in frame})


def canonical_values(frame: pd.DataFrame) -> pd.DataFrame:
    """Task, amendment and checkpoint names as ours (`disinfo` -> `disinformation`, `relation:up` -> ...)."""
    for col, aliases in ((Col.TASK, TASK_ALIASES), (Col.AMENDMENT_TYPE, AMENDMENT_ALIASES)):
        if col in frame.columns:
            frame[col] = frame[col].astype(str).replace(aliases)
    if Col.CHECKPOINT in frame.columns:  # older warmth-style spellings (`original`, `warm/epoch_2`)
        frame[Col.CHECKPOINT] = frame[Col.CHECKPOINT].fillna(NO_CHECKPOINT).astype(str).map(read_checkpoint)
    if Col.IS_REFUSAL in frame.columns and not pd.api.types.is_bool_dtype(frame[Col.IS_REFUSAL]):
        # An empty flag stays unknown (None), never "not refused": load_verdict_files derives it.
        from warmray.grading import refusal_flags  # the judge package imports this one

        frame[Col.IS_REFUSAL] = refusal_flags(frame[Col.IS_REFUSAL])
    return frame


def answer_list(value: object) -> list[str]:
    """A reference cell as a list: a list literal ("['a', 'b']") or one answer."""
    text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            parsed = None
        if isinstance(parsed, list):
            return [str(v).strip() for v in parsed if str(v).strip()]
    return [text] if text else []


def _read(file: Path, root: Path) -> pd.DataFrame:
    match = OUTPUTS.match(file.name)
    assert match is not None  # released_files only lists matching names
    variant_dir, model_dir = file.parent.name, file.parent.parent.name
    if match["name_variant"] != variant_dir:
        raise ReleasedLayoutError(
            f"{file}: named for variant {match['name_variant']!r} but in {variant_dir}/."
        )
    try:
        frame = pd.read_csv(file, dtype=str, keep_default_na=False)
    except Exception as e:  # pandas raises many types; all mean "not a readable CSV"
        raise ReleasedLayoutError(f"{file}: cannot be read as CSV: {e}") from None
    task = TASK_ALIASES.get(match["name_task"], match["name_task"])
    frame = rename_columns(frame)
    key = ITEM_KEYS.get(task)
    needed = [
        theirs
        for ours, theirs in ((Col.RESPONSE, "output"), (Col.VERDICT, "evaluation"))
        if ours not in frame
    ]
    missing = needed + ([key] if key and key not in frame.columns else [])
    if key is None or missing:
        raise ReleasedLayoutError(
            f"{file}: a released {match['name_task']!r} outputs file needs the item key "
            f"{key or '(unknown task)'!r} and {list(RELEASED_REQUIRED)}; missing {missing}. Columns found: "
            f"{list(frame.columns)} (under {root})."
        )
    frame = frame.assign(model=model_dir, variant=variant_dir, task=task, item_id=task + ":" + frame[key])
    frame["source_file"] = str(file.relative_to(root))
    return frame


def _pair(frame: pd.DataFrame) -> tuple[str, str] | None:
    """The (correct, wrong) reference columns this file carries, if any."""
    return next(
        (p for p in REFERENCE_COLUMNS.get(frame[Col.TASK].iloc[0], ()) if p[0] in frame.columns), None
    )


def _lookup(frame: pd.DataFrame) -> dict[str, tuple[list[str], list[str], str]]:
    """item_id -> (correct answers, wrong answers, question) of one file, first row with answers wins."""
    pair = _pair(frame)
    if pair is None:
        return {}
    right, wrong = pair
    wrongs = frame[wrong] if wrong in frame.columns else pd.Series("", index=frame.index)
    questions = frame["question"] if "question" in frame.columns else pd.Series("", index=frame.index)
    out: dict[str, tuple[list[str], list[str], str]] = {}
    for item, r, w, q in zip(frame[Col.ITEM_ID], frame[right], wrongs, questions, strict=True):
        if item not in out and answer_list(r):
            out[item] = (answer_list(r), answer_list(w), str(q))
    return out


def _join_references(frames: list[pd.DataFrame], originals: dict[tuple[str, str], pd.DataFrame]) -> None:
    """Give each row `correct_answers`, `incorrect_answers` and `reference_from` (the file they came from).

    A row's own reference columns come first; a row without them takes those of the same item key in the
    same model's `original` file of its task (the study's warm files that keep only the key). A row
    matched nowhere gets empty answers and an empty `reference_from`: `unmatched_references` names it.
    """
    lookups = {k: (f["source_file"].iloc[0], _lookup(f)) for k, f in originals.items()}
    for frame in frames:
        own = _lookup(frame)
        origin_file, origin = lookups.get((frame[Col.MODEL].iloc[0], frame[Col.TASK].iloc[0]), ("", {}))
        this_file = frame["source_file"].iloc[0]
        found = [
            (own[i], this_file) if i in own else (origin[i], origin_file) if i in origin else (None, "")
            for i in frame[Col.ITEM_ID]
        ]
        frame["correct_answers"] = [f[0][0] if f[0] else [] for f in found]
        frame["incorrect_answers"] = [f[0][1] if f[0] else [] for f in found]
        frame["reference_from"] = [f[1] for f in found]
        if "question" not in frame.columns:
            frame["question"] = [f[0][2] if f[0] else "" for f in found]


def unmatched_references(frame: pd.DataFrame, shown: int = 3) -> list[str]:
    """One line per released file with rows that found no reference answers: the file and missing keys.

    Grading needs the answers; analysis does not (the study's verdicts are kept), so only `judge` asks.
    """
    if "reference_from" not in frame.columns:
        return []
    lost = frame[(frame["reference_from"] == "") & frame["source_file"].notna()]
    lines = []
    for file, rows in lost.groupby("source_file", sort=True):
        model, variant, name = Path(str(file)).parts[-3:]
        task = OUTPUTS.match(name)["name_task"] if OUTPUTS.match(name) else "?"
        keys = rows[Col.ITEM_ID].str.split(":", n=1).str[1].drop_duplicates().tolist()
        key_column = ITEM_KEYS.get(rows[Col.TASK].iloc[0], "item key")
        listed = ", ".join(repr(k) for k in keys[:shown]) + (
            f" and {len(keys) - shown} more" if len(keys) > shown else ""
        )
        lines.append(
            f"{file}: {len(rows)} row(s) carry no reference answers and their {key_column} is not in "
            f"{model}/original/{task}_original_outputs.csv with answers: {listed}."
        )
    return lines


def _fill_cells(frames: list[pd.DataFrame], root: Path, others: list[pd.DataFrame] | None = None) -> None:
    """Give files without template / amendment columns those of the same (task, item, prompt) elsewhere.

    `others` are files read only to look these up (an `original` file the caller did not name).
    """
    known: dict[tuple[str, str, str], tuple[str, str]] = {}
    for frame in [*frames, *(others or [])]:
        if all(c in frame.columns for c in CELL_COLUMNS) and "prompt" in frame.columns:
            for t, i, p, tmpl, a in zip(
                frame[Col.TASK],
                frame[Col.ITEM_ID],
                frame["prompt"],
                *(frame[c] for c in CELL_COLUMNS),
                strict=True,
            ):
                known.setdefault((t, i, p), (tmpl, a))
    for frame in frames:
        if all(c in frame.columns for c in CELL_COLUMNS):
            continue
        file = frame["source_file"].iloc[0]
        if "prompt" not in frame.columns:
            raise ReleasedLayoutError(
                f"{root / file}: has neither {list(CELL_COLUMNS)} nor a prompt to find them by; columns: "
                f"{list(frame.columns)}."
            )
        found = [known.get(k) for k in zip(frame[Col.TASK], frame[Col.ITEM_ID], frame["prompt"], strict=True)]
        lost = sum(f is None for f in found)
        if lost:
            raise ReleasedLayoutError(
                f"{root / file}: {lost} row(s) without {list(CELL_COLUMNS)} whose prompt no other file of "
                "the same task carries, so their template and context are unknown."
            )
        frame[Col.PROMPT_TEMPLATE] = [f[0] for f in found]
        frame[Col.AMENDMENT_TYPE] = [f[1] for f in found]


def released_file_root(file: Path) -> Path | None:
    """The root of `<root>/<model>/<variant>/<task>_<variant>_outputs.csv`, or None if not so placed."""
    match = OUTPUTS.match(file.name)
    if match is None or match["name_variant"] != file.parent.name:
        return None
    return file.parent.parent.parent


def read_released(root: Path, files: list[Path] | None = None) -> pd.DataFrame:
    """Outputs files under `root` (all of them, or `files`), as one frame in our columns and vocabulary.

    Reference answers a file lacks are joined from the same model's `original` file of the task, read for
    that purpose even when `files` does not name it. `source_file` (relative to `root`) and
    `reference_from` say where each row and its answers came from.

    Raises:
        ReleasedLayoutError: a file lacks the item key or the verdict columns.
    """
    chosen = sorted(files) if files is not None else released_files(root)
    frames = [f for f in (_read(file, root) for file in chosen) if not f.empty]
    if not frames:
        raise ReleasedLayoutError(
            f"{root}: no rows in its <model>/<variant>/<task>_<variant>_outputs.csv files."
        )
    originals = {
        (f[Col.MODEL].iloc[0], f[Col.TASK].iloc[0]): f
        for f in frames
        if f[Col.VARIANT].iloc[0] == BASE_VARIANT
    }
    for frame in frames:
        model, name = frame[Col.MODEL].iloc[0], Path(frame["source_file"].iloc[0]).name
        original = (
            root / model / BASE_VARIANT / OUTPUTS.sub(rf"\g<name_task>_{BASE_VARIANT}_outputs.csv", name)
        )
        if (model, frame[Col.TASK].iloc[0]) not in originals and original.is_file():
            read = _read(original, root)
            if not read.empty:
                originals[(model, frame[Col.TASK].iloc[0])] = read
    _join_references(frames, originals)
    _fill_cells(frames, root, [f for f in originals.values() if not any(f is g for g in frames)])
    out = pd.concat(frames, ignore_index=True)
    if (out["question"].astype(str) == "").any():
        present = [c for c in QUESTION_COLUMNS if c in out.columns and c != "question"]
        fallback = out[present].replace("", pd.NA).bfill(axis=1).iloc[:, 0].fillna("") if present else ""
        out["question"] = out["question"].astype(str).where(out["question"].astype(str) != "", fallback)
    out[Col.VERDICT] = out[Col.VERDICT].astype(str).str.strip().str.upper()
    return canonical_values(out)
