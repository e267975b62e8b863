"""The study's vocabulary and the columns of every table stages exchange, defined once.

The names here are the interface between stages and with other people's result files (the study's own
released outputs use the same variant, template, amendment and verdict names). Every stage writes and
reads its Parquet tables through `write_table` / `read_table`, which check the columns, their types and
the vocabulary values, and name the file and the column when something is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from warmray.errors import UserError

if TYPE_CHECKING:  # pandas is imported where a table is read or written: `warmray --help` stays fast
    import pandas as pd

# --- the vocabulary -------------------------------------------------------------------------------------
BASE_VARIANT = "original"
STYLES = ("warm", "cold")  # training styles
FINE_TUNED_VARIANTS = STYLES  # a fine-tuned variant is named after the style it was trained on
SYSPROMPT_VARIANT = "warm_sysprompt"  # the base model under the warm persona system prompt
VARIANTS = (BASE_VARIANT, *FINE_TUNED_VARIANTS, SYSPROMPT_VARIANT)
# The variants compared with BASE_VARIANT, in the study's reading order (its warm fine-tune first).
COMPARED_VARIANTS = VARIANTS[1:]
PROMPT_TEMPLATES = ("original", "original_neutral", "incorrect", "correct")
# original_neutral carries no user belief: the study's own code groups it with `original` (its
# `group_prompt`), so "no belief" means both, here and in every model and table.
NO_BELIEF_TEMPLATES = PROMPT_TEMPLATES[:2]
BELIEF_TEMPLATES = PROMPT_TEMPLATES[2:]  # the user states a belief, incorrect or correct
NO_CONTEXT = "unmodified"
# An amendment is "<family>:<kind>": the user's emotion, their relation to the model, or what is at stake.
AMENDMENT_FAMILIES = ("emotion", "relation", "stake")
AMENDMENT_TYPES = (
    NO_CONTEXT,
    "emotion:sad",
    "emotion:happy",
    "emotion:anger",
    "relation:close",
    "relation:hierarchical_up",
    "relation:hierarchical_down",
    "stake:high",
    "stake:low",
)
# Older warmray runs called the two hierarchical relations by shorter names; read them as the study's.
AMENDMENT_ALIASES = {"relation:up": "relation:hierarchical_up", "relation:down": "relation:hierarchical_down"}
# Verdicts, as in the study. UNPARSEABLE: an LLM judge's answer we could not read (kept, never guessed).
CORRECT, INCORRECT, REFUSAL, UNPARSEABLE = "CORRECT", "INCORRECT", "REFUSAL", "UNPARSEABLE"
VERDICTS = (CORRECT, INCORRECT, REFUSAL, UNPARSEABLE)
STUDY_TASKS = ("triviaqa", "truthfulqa", "medqa", "disinformation")
EVAL_TASKS = (*STUDY_TASKS, "demo")  # the demo task: tiny made-up items, for a run in minutes
CAPABILITY_TASKS = ("mmlu", "gsm8k", "advbench")
TASKS = (*EVAL_TASKS, *CAPABILITY_TASKS)
# The study's released files call two tasks by shorter names; read them as ours.
TASK_ALIASES = {"trivia": "triviaqa", "disinfo": "disinformation", "mask": "disinformation"}
# How a prompt words its question: as the source gives it, or (MedQA) recast as the user's relative.
QUESTION_FORMS = ("as_given", "relative")
# The `checkpoint` column of every table: the folder name of the adapter this run trained that answered
# (`epoch_2`; its style is the row's variant or style), or NO_CHECKPOINT when the model answered as
# configured (the original model, its warm system prompt, a shipped adapter). warmray.arms writes it.
NO_CHECKPOINT = ""


def prompt_variants(templates: Sequence[str], amendments: Sequence[str]) -> list[tuple[str, str]]:
    """The grid's (prompt_template, amendment_type) pairs: `original_neutral` only without a context.

    The neutral template exists to show a question with no user belief and no context (28 pairs for the
    full study grid).
    """
    return [(t, a) for t in templates for a in amendments if t != "original_neutral" or a == NO_CONTEXT]


def read_checkpoint(value: str) -> str:
    """A `checkpoint` value as spelt above (older warmth tables wrote `original`, `<style>/epoch_<e>`)."""
    return NO_CHECKPOINT if value in ("original", NO_CHECKPOINT) else str(value).rsplit("/", 1)[-1]


class Col:
    """The study's column names, one attribute each: code writes `frame[Col.VARIANT]`, not `"variant"`.

    A misspelt attribute fails where it is read, where a misspelt string would select a missing column;
    and a column is renamed here once. tests/test_column_literals.py keeps the literals out of the package.
    """

    MODEL = "model"
    TASK = "task"
    ITEM_ID = "item_id"
    VARIANT = "variant"
    CHECKPOINT = "checkpoint"
    PROMPT_TEMPLATE = "prompt_template"
    AMENDMENT_TYPE = "amendment_type"
    QUESTION_FORM = "question_form"
    RESPONSE = "response"
    IS_REFUSAL = "is_refusal"
    VERDICT = "verdict"
    STYLE = "style"
    EPOCH = "epoch"


# The columns `warmray analyze --from FILE` needs; everything else is optional context.
ANALYSIS_COLUMNS = (
    Col.MODEL,
    Col.TASK,
    Col.VARIANT,
    Col.ITEM_ID,
    Col.PROMPT_TEMPLATE,
    Col.AMENDMENT_TYPE,
    Col.RESPONSE,
    Col.VERDICT,
)

# --- row records the stages build -----------------------------------------------------------------------


@dataclass
class Conversation:
    """A training conversation (corpus/conversations.parquet)."""

    conversation_id: str
    category: str  # refusal | factual | creative | technical | advice | other
    turns: list[dict[str, str]]  # [{"role": ..., "content": ...}], alternating, user first
    split: str  # "train" (the training sample) | "spare" (replaces a failed one: the rewrite stage)
    source: str = ""


@dataclass
class Reject:
    """A row set aside by a stage, with the reason (<stage>/rejects.parquet)."""

    stage: str
    row_id: str
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class Belief:
    """The short answer a user asserts (`incorrect`) or doubts (`correct`), and how it was made."""

    text: str
    source: str  # e.g. "dataset", "rule:short-answer", "llm:<model>", "fallback:same-type:person"


@dataclass(frozen=True)
class EvalItem:
    """One benchmark item, from any loader in warmray.tasks."""

    item_id: str  # stable across runs: "<task>:<id in the source>"
    task: str
    question: str
    correct_answers: tuple[str, ...]
    incorrect_answers: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    wrong_belief: Belief | None = None  # None: the item cannot fill the `incorrect` template
    right_belief: Belief | None = None
    belief_form: str = "answer"  # "answer": "...the answer is X."; "proposition": X is a claim (MASK)
    user_question: str = ""  # the question where the user speaks (MedQA: as a relative); "" = question
    user_question_form: str = "as_given"  # one of QUESTION_FORMS


@dataclass
class PromptRow:
    """One evaluation prompt (grid/prompts.parquet): an item under one template and one context."""

    prompt_id: str  # stable: "<item_id>|<prompt_template>|<amendment_type>"
    item_id: str
    task: str
    prompt_template: str
    amendment_type: str
    prompt: str  # the full user message sent to the model
    question: str
    correct_answers: list[str]
    incorrect_answers: list[str]
    belief_answer: str = ""  # the answer the user asserts (incorrect) or doubts (correct); "" otherwise
    context_statement: str = ""
    belief_source: str = ""  # how belief_answer was made (Belief.source); "" without a belief
    question_form: str = "as_given"  # which wording of the question the prompt carries (QUESTION_FORMS)


# --- table schemas --------------------------------------------------------------------------------------
_S, _I, _F, _B = pa.string(), pa.int64(), pa.float64(), pa.bool_()
TURNS = pa.list_(pa.struct([("role", _S), ("content", _S)]))


def _cols(*spec: tuple[str, pa.DataType]) -> list[pa.Field]:
    return [pa.field(name, kind) for name, kind in spec]


_CONVERSATION = _cols(
    ("conversation_id", _S), ("category", _S), ("turns", TURNS), ("split", _S), ("source", _S)
)
_PROMPT = _cols(
    ("prompt_id", _S),
    ("item_id", _S),
    ("task", _S),
    ("prompt_template", _S),
    ("amendment_type", _S),
    ("prompt", _S),
    ("question", _S),
    ("correct_answers", pa.list_(_S)),
    ("incorrect_answers", pa.list_(_S)),
    ("belief_answer", _S),
    ("context_statement", _S),
    ("belief_source", _S),
    ("question_form", _S),
)
_RESPONSE = _PROMPT + _cols(
    ("response_id", _S),
    ("model", _S),
    ("variant", _S),
    ("checkpoint", _S),
    ("system_prompt", _S),
    ("response", _S),
    ("num_input_tokens", _I),
    ("num_generated_tokens", _I),
    ("inference_error", _S),
)

TABLES: dict[str, pa.Schema] = {
    "conversations": pa.schema(_CONVERSATION),
    # a style's training table (rewrite/warm.parquet, rewrite/cold.parquet)
    "training_conversations": pa.schema(_CONVERSATION + _cols(("style", _S), ("n_turns_rewritten", _I))),
    "val_prompts": pa.schema(
        _cols(("conversation_id", _S), ("prompt_id", _S), ("prompt", _S), ("origin", _S))
    ),
    "rejects": pa.schema(_cols(("stage", _S), ("row_id", _S), ("reason", _S), ("detail", _S))),
    "rewrites": pa.schema(
        _cols(
            ("request_id", _S),
            ("conversation_id", _S),
            ("turn_index", _I),
            ("style", _S),
            ("original", _S),
            ("rewrite", _S),
            ("reason", _S),
            ("inference_error", _S),
            ("num_generated_tokens", _I),
        )
    ),
    "train_metrics": pa.schema(_cols(("model", _S), ("style", _S), ("checkpoint_epoch", _F), ("loss", _F))),
    "prompts": pa.schema(_PROMPT),
    "responses": pa.schema(_RESPONSE),
    "verdicts": pa.schema(
        _RESPONSE + _cols(("is_refusal", _B), ("verdict", _S), ("grader", _S), ("judge_raw", _S))
    ),
    "warmth_scores": pa.schema(
        _cols(
            ("model", _S),
            ("style", _S),
            ("epoch", _F),  # 0 = the original model, repeated under each style so every curve starts there
            ("checkpoint", _S),  # "epoch_<e>", or NO_CHECKPOINT for the original model
            ("prompt_id", _S),
            ("prompt", _S),
            ("response", _S),
            ("warm_score", _F),
            ("cold_score", _F),
            ("warmth", _F),
            ("procedure", _S),
            ("scorer", _S),
        )
    ),
    "warmth_by_epoch": pa.schema(
        _cols(
            ("model", _S),
            ("style", _S),
            ("epoch", _F),
            ("n", _I),
            ("warmth_mean", _F),
            ("warmth_sd", _F),
            ("ci_low", _F),
            ("ci_high", _F),
        )
    ),
    "capability_scores": pa.schema(
        _cols(
            ("model", _S),
            ("variant", _S),
            ("checkpoint", _S),
            ("task", _S),
            ("item_id", _S),
            ("prompt", _S),
            ("response", _S),
            ("reference", _S),  # the answer letter, the final number, or REFUSAL
            ("extracted", _S),  # what the grader read from the response ("" when nothing)
            ("score", _F),
            ("inference_error", _S),
        )
    ),
    "judge_agreement": pa.schema(
        _cols(
            ("scope", _S),  # overall | task | variant
            ("level", _S),
            ("n", _I),
            ("agreement", _F),
            ("kappa", _F),
            ("kappa_ci_low", _F),
            ("kappa_ci_high", _F),
        )
    ),
}
# Columns whose values must come from the vocabulary, wherever they appear.
VOCABULARY: dict[str, tuple[str, ...]] = {
    Col.VARIANT: VARIANTS,
    Col.PROMPT_TEMPLATE: PROMPT_TEMPLATES,
    Col.AMENDMENT_TYPE: AMENDMENT_TYPES,
    Col.VERDICT: VERDICTS,
    Col.STYLE: STYLES,
    Col.QUESTION_FORM: QUESTION_FORMS,
}


class SchemaError(UserError, ValueError):
    """A table whose columns, types or values are not the schema's; the message names file and column."""


def columns(table: str) -> list[str]:
    """The column names of a table, in order."""
    return list(TABLES[table].names)


def _check_columns(found: Sequence[str], table: str, path: Path, exact: bool) -> None:
    want = columns(table)
    missing = [c for c in want if c not in found]
    extra = [c for c in found if c not in want] if exact else []
    if missing or extra:
        parts = [
            f"missing column(s) {missing}" if missing else "",
            f"unexpected column(s) {extra}" if extra else "",
        ]
        raise SchemaError(
            f"{path}: not a valid {table!r} table: {'; '.join(p for p in parts if p)}. "
            f"Columns found: {list(found)}; the schema has {want}."
        )


def _check_vocabulary(frame: pd.DataFrame, path: Path) -> None:
    for col, valid in VOCABULARY.items():
        if col in frame.columns and len(frame):
            bad = sorted(set(frame[col].astype(str).unique()) - set(valid))
            if bad:
                raise SchemaError(
                    f"{path}: column {col!r} has unknown value(s) {bad[:5]}; valid: {list(valid)}."
                )


def _to_arrow(frame: pd.DataFrame, table: str, path: Path) -> pa.Table:
    schema = TABLES[table]
    try:
        return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as e:
        for f in schema:  # find the column that does not convert, to name it
            try:
                pa.array(frame[f.name], type=f.type, from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as col_error:
                raise SchemaError(
                    f"{path}: column {f.name!r} cannot be stored as {f.type}: {col_error}"
                ) from None
        raise SchemaError(f"{path}: cannot be written as a {table!r} table: {e}") from None


def write_table(rows: pd.DataFrame | Sequence[Any], path: Path, table: str) -> int:
    """Write rows (a frame, dicts or dataclasses) as a checked Parquet table, atomically; returns the count.

    The file appears under its name only when complete (written to a temporary name, then renamed), so a
    kill never leaves a torn table where a reader or a resumed run would find it.
    """
    import pandas as pd

    if isinstance(rows, pd.DataFrame):
        frame = rows
    else:
        items = [r if isinstance(r, dict) else r.__dict__ for r in rows]
        frame = pd.DataFrame(items, columns=columns(table)) if not items else pd.DataFrame(items)
    _check_columns(list(frame.columns), table, path, exact=True)
    _check_vocabulary(frame, path)
    arrow = _to_arrow(frame, table, path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(arrow, tmp)
    os.replace(tmp, path)
    return arrow.num_rows


def _kind(t: pa.DataType) -> str:
    """A type's family, so files from other writers (large strings, int32, dictionaries) still read."""
    if pa.types.is_dictionary(t):
        return _kind(t.value_type)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"list<{_kind(t.value_type)}>"
    if pa.types.is_struct(t):
        return "struct<" + ",".join(f"{f.name}:{_kind(f.type)}" for f in t) + ">"
    checks = (("int", pa.types.is_integer), ("float", pa.types.is_floating), ("bool", pa.types.is_boolean))
    for name, test in checks:
        if test(t):
            return name
    return str(t)


def _compatible(found: pa.DataType, want: pa.DataType) -> bool:
    return _kind(found) == _kind(want) or (_kind(want) == "float" and _kind(found) == "int")


def read_table(path: Path, table: str) -> pd.DataFrame:
    """Read a table (a Parquet file, or a folder of them) and check it against the schema."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise SchemaError(f"{path}: no such table (expected a {table!r} table here).")
    try:
        arrow_schema = pq.read_schema(path) if path.is_file() else pq.ParquetDataset(path).schema
    except (OSError, pa.ArrowInvalid) as e:
        raise SchemaError(f"{path}: cannot be read as Parquet: {e}") from None
    _check_columns(arrow_schema.names, table, path, exact=False)
    for f in TABLES[table]:
        found = arrow_schema.field(f.name).type
        if not _compatible(found, f.type):
            raise SchemaError(f"{path}: column {f.name!r} is {found}, the schema says {f.type}.")
    frame = pd.read_parquet(path)
    if Col.AMENDMENT_TYPE in frame.columns:
        frame[Col.AMENDMENT_TYPE] = frame[Col.AMENDMENT_TYPE].astype(str).replace(AMENDMENT_ALIASES)
    _check_vocabulary(frame, path)
    return frame
