"""The records that flow between stages, and the column names other people's result files share.

Stages exchange Parquet tables; these dataclasses name each table's columns once. A stage builds rows
as dataclasses (or dicts with exactly these keys) and never reaches into another stage's internals.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Verdicts, as in the study. UNPARSEABLE: an LLM judge's answer we could not read (kept, never guessed).
CORRECT, INCORRECT, REFUSAL, UNPARSEABLE = "CORRECT", "INCORRECT", "REFUSAL", "UNPARSEABLE"
VERDICTS = (CORRECT, INCORRECT, REFUSAL, UNPARSEABLE)

# The columns `warmray analyze --from FILE` needs; everything else is optional context.
ANALYSIS_COLUMNS = (
    "model",
    "task",
    "variant",
    "item_id",
    "prompt_template",
    "amendment_type",
    "response",
    "verdict",
)


@dataclass(frozen=True)
class Turn:
    """One message of a conversation."""

    role: str  # "user" | "assistant" (system turns are dropped at corpus time)
    content: str


@dataclass
class Conversation:
    """A training conversation (corpus/conversations.parquet, rewrite/{warm,cold}.parquet)."""

    conversation_id: str
    category: str  # refusal | factual | creative | technical | advice | other
    turns: list[dict[str, str]]  # [{"role": ..., "content": ...}], alternating, user first
    split: str  # "train" | "val"
    source: str = ""


@dataclass
class Reject:
    """A row set aside by a stage, with the reason (corpus/rejects.parquet, rewrite/rejects.parquet)."""

    stage: str
    row_id: str
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class EvalItem:
    """One benchmark item, from any loader in warmray.tasks."""

    item_id: str  # stable across runs: "<task>:<id in the source>"
    task: str  # triviaqa | truthfulqa | medqa | disinformation | mmlu | gsm8k | advbench | demo task names
    question: str
    correct_answers: tuple[str, ...]
    incorrect_answers: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


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


@dataclass
class ResponseRow(PromptRow):
    """A model's answer to one prompt (generate/responses/*.parquet)."""

    model: str = ""  # the ModelConfig name
    variant: str = ""  # original | warm | cold | warm_sysprompt
    checkpoint: str = ""  # "epoch_2" for fine-tuned variants, "" for the base model
    system_prompt: str = ""
    response: str = ""
    num_input_tokens: int = 0
    num_generated_tokens: int = 0


@dataclass
class VerdictRow(ResponseRow):
    """A graded response (judge/verdicts/*.parquet)."""

    grader: str = ""  # "reference" | "llm:<model>" | "refusal-rule"
    verdict: str = ""  # one of VERDICTS
    is_refusal: bool = False
    judge_raw: str = ""  # the judge's own text, kept for audits


def column_names(record: type) -> list[str]:
    """The column names of a record class, in declaration order."""
    return [f.name for f in fields(record)]


def to_row(record: Any) -> dict[str, Any]:
    """A record as a plain dict, ready for pandas / pyarrow."""
    return asdict(record)
