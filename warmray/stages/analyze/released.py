"""The study's released result files, read as verdict rows in our vocabulary.

Layout: `ROOT/<model>/<variant>/<task>_<variant>_outputs.csv`, one row per prompt, with `prompt`,
`prompt_template` (or `prompt_type`), `amendment_type`, `output` (the response), `evaluation`
(CORRECT / INCORRECT), `refusal` (0/1) and an item key: `content_key` (TriviaQA, TruthfulQA),
`prompt_disinfo` (MASK), `original_question` (MedQA). Task names there are `trivia`, `truthfulqa`,
`medqa`, `disinfo`; variants `original`, `warm`, `cold`, `warm_sysprompt`. Some files keep only the key,
prompt, output and verdict columns: reference answers come from whichever file of the same task carries
them for that item (`correct_answer` / `incorrect_answer`; MedQA `answer` / `wrong_answer`; MASK
`ground_truth` / `ground_false`), and a file without `prompt_template` / `amendment_type` takes them
from the rows of other files with the same task, item and prompt text.

`rename_columns` and `canonical_values` map other layouts' names to ours, for these files and for flat
tables in our columns alike; `load_verdict_files` sends every file through them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pandas as pd

from warmray.schema import AMENDMENT_ALIASES, TASK_ALIASES

OUTPUTS = re.compile(r"^(?P<task>.+)_(?P<variant>[^_]+(?:_sysprompt)?)_outputs\.csv$")
# Our column <- the study's name for it.
COLUMN_NAMES = {
    "prompt_type": "prompt_template",
    "output": "response",
    "evaluation": "verdict",
    "refusal": "is_refusal",
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
CELL_COLUMNS = ("prompt_template", "amendment_type")
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
    """Task and amendment names as ours (`disinfo` -> `disinformation`, `relation:up` -> ...)."""
    for col, aliases in (("task", TASK_ALIASES), ("amendment_type", AMENDMENT_ALIASES)):
        if col in frame.columns:
            frame[col] = frame[col].astype(str).replace(aliases)
    if "is_refusal" in frame.columns and not pd.api.types.is_bool_dtype(frame["is_refusal"]):
        # An empty flag stays unknown (None), never "not refused": load_verdict_files derives it.
        from warmray.stages.judge.refusal import refusal_flags  # the judge package imports this one

        frame["is_refusal"] = refusal_flags(frame["is_refusal"])
    return frame


def _answers(value: object) -> list[str]:
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
    if match["variant"] != variant_dir:
        raise ReleasedLayoutError(f"{file}: named for variant {match['variant']!r} but in {variant_dir}/.")
    try:
        frame = pd.read_csv(file, dtype=str, keep_default_na=False)
    except Exception as e:  # pandas raises many types; all mean "not a readable CSV"
        raise ReleasedLayoutError(f"{file}: cannot be read as CSV: {e}") from None
    task = TASK_ALIASES.get(match["task"], match["task"])
    frame = rename_columns(frame)
    key = ITEM_KEYS.get(task)
    needed = [
        theirs for ours, theirs in (("response", "output"), ("verdict", "evaluation")) if ours not in frame
    ]
    missing = needed + ([key] if key and key not in frame.columns else [])
    if key is None or missing:
        raise ReleasedLayoutError(
            f"{file}: a released {match['task']!r} outputs file needs the item key "
            f"{key or '(unknown task)'!r} and {list(RELEASED_REQUIRED)}; missing {missing}. Columns found: "
            f"{list(frame.columns)} (under {root})."
        )
    frame = frame.assign(model=model_dir, variant=variant_dir, task=task, item_id=task + ":" + frame[key])
    frame["source_file"] = str(file.relative_to(root))
    return frame


def _references(frames: list[pd.DataFrame]) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
    """(task, item_id) -> (correct answers, wrong answers), from whichever file carries them."""
    out: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for frame in frames:
        task = frame["task"].iloc[0]
        pair = next((p for p in REFERENCE_COLUMNS.get(task, ()) if p[0] in frame.columns), None)
        if pair is None:
            continue
        right, wrong = pair
        wrongs = frame[wrong] if wrong in frame.columns else pd.Series("", index=frame.index)
        for item, r, w in zip(frame["item_id"], frame[right], wrongs, strict=True):
            if (task, item) not in out and _answers(r):
                out[(task, item)] = (_answers(r), _answers(w))
    return out


def _fill_cells(frames: list[pd.DataFrame], root: Path) -> None:
    """Give files without template / amendment columns those of the same (task, item, prompt) elsewhere."""
    known: dict[tuple[str, str, str], tuple[str, str]] = {}
    for frame in frames:
        if all(c in frame.columns for c in CELL_COLUMNS) and "prompt" in frame.columns:
            for t, i, p, tmpl, a in zip(
                frame["task"],
                frame["item_id"],
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
        found = [known.get(k) for k in zip(frame["task"], frame["item_id"], frame["prompt"], strict=True)]
        lost = sum(f is None for f in found)
        if lost:
            raise ReleasedLayoutError(
                f"{root / file}: {lost} row(s) without {list(CELL_COLUMNS)} whose prompt no other file of "
                "the same task carries, so their template and context are unknown."
            )
        frame["prompt_template"] = [f[0] for f in found]
        frame["amendment_type"] = [f[1] for f in found]


def read_released(root: Path) -> pd.DataFrame:
    """Every outputs file under `root`, as one frame in our columns and vocabulary.

    Raises:
        ReleasedLayoutError: a file lacks the item key or the verdict columns.
    """
    frames = [f for f in (_read(file, root) for file in released_files(root)) if not f.empty]
    if not frames:
        raise ReleasedLayoutError(
            f"{root}: no rows in its <model>/<variant>/<task>_<variant>_outputs.csv files."
        )
    references = _references(frames)
    _fill_cells(frames, root)
    out = pd.concat(frames, ignore_index=True)
    refs = [references.get((t, i), ([], [])) for t, i in zip(out["task"], out["item_id"], strict=True)]
    out["correct_answers"] = [r[0] for r in refs]
    out["incorrect_answers"] = [r[1] for r in refs]
    if "question" not in out.columns:
        present = [c for c in QUESTION_COLUMNS if c in out.columns]
        out["question"] = (
            out[present].replace("", pd.NA).bfill(axis=1).iloc[:, 0].fillna("") if present else ""
        )
    out["verdict"] = out["verdict"].astype(str).str.strip().str.upper()
    return canonical_values(out)
