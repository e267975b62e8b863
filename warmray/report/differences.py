"""Differences from the study: the one table of where warmray departs from what the authors did.

Each row is a point where warmray differs from the study (Ibrahim, Hafner & Rocher 2025): by choice, by
default (a setting changes it), or because the study did not say. The table is rendered twice from this
one source: into README.md between the markers below (`python -m warmray.report.differences --readme` rewrites
that section; a test checks it is current), and into every analysis report, right after its headline
effects (warmray.report.sections).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Difference:
    """One point where warmray differs from the study."""

    point: str
    study: str
    warmray: str
    kind: str  # "choice" | "default" | "unstated" (the study did not say)
    to_match: str  # how to get the study's behaviour, or why it cannot be had


KINDS = {"choice": "by choice", "default": "by default", "unstated": "study did not say"}
COLUMNS = ("Point", "The study", "warmray", "Why", "To get the study's behaviour")

DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        "Judge prompt",
        "its own grading prompt to GPT-4o",
        "our own wording (warmray/prompts/judge.txt); default grader: reference matching",
        "choice",
        "`judge.grader: llm`, `judge.model: gpt-4o`; their prompt text is not shipped (edit judge.txt)",
    ),
    Difference(
        "Judge and rewrite model version",
        "GPT-4o, no snapshot named",
        "the model name as given (`gpt-4o`: whatever snapshot the endpoint serves)",
        "unstated",
        "none known; pin a dated snapshot in `judge.model` / `rewrite.model` to make a run repeatable",
    ),
    Difference(
        "Rewrite prompts",
        "its own warm / cold rewrite instructions",
        "our own wording (warmray/prompts/rewrite_*.txt, rewrite_intensity.yaml)",
        "choice",
        "not shipped; edit those prompt files",
    ),
    Difference(
        "Context statements and warm system prompt",
        "its own statements per context, drawn per prompt",
        "the same contents in our words (warmray/prompts/contexts.yaml, warm_system_prompt.txt)",
        "choice",
        "give the study's released prompt files as the grid's task `source` (sent verbatim)",
    ),
    Difference(
        "LoRA target modules",
        "not stated",
        "`all-linear` (r 8, alpha 16, dropout 0.1)",
        "unstated",
        "`train.target_modules`",
    ),
    Difference(
        "Training dose",
        "1,617 conversations; ~1,500 validation prompts drawn apart; rewrite failures not described",
        "`corpus.n_conversations` (1,617), a failed rewrite replaced from its category; validation apart",
        "unstated",
        "the default; the report counts replacements",
    ),
    Difference(
        "Refusal rule",
        "stock phrases anywhere in the response, its list missing a typographic 'I can\u2019t'",
        "`warmray` rule by default: quotes normalised, a few more phrases",
        "default",
        "`judge.refusal_rule: study_as_run` (the paper configs set it); `analyze --refusal-rule`",
    ),
    Difference(
        "SocioT scorer and procedure",
        "GPT-2 small; two published code releases (eval one pass / train mode, 100 passes)",
        "`builtin:smollm2-135m`, which works offline; the later release's procedure",
        "default",
        "`warmth.scorer: gpt2` (paper configs); `warmth.procedure: earlier` for the earlier release",
    ),
    Difference(
        "Belief answers without an answer model",
        "written by a model (GPT-4o)",
        "documented offline rules, each row's `belief_source` saying which",
        "default",
        "`grid.wrong_answer_model` (gpt-4o in configs/paper.yaml)",
    ),
    Difference(
        "GLM p-values",
        "Wald test of the summed logit coefficients (models 2-4)",
        "delta-method z-test of each average marginal effect (same null, other digits)",
        "choice",
        "not offered; the effects themselves match",
    ),
    Difference(
        "Policy models",
        "Llama-3.1-8B/70B, Mistral-Small, Qwen-2.5-32B (and GPT-4o, not fine-tuned here)",
        "`builtin:smollm2-135m` by default, so a laptop can run the pipeline",
        "default",
        "configs/paper.yaml (the four open models on GPUs)",
    ),
)

README_START = "<!-- differences:start (generated from warmray/report/differences.py) -->"
README_END = "<!-- differences:end -->"


def rows() -> list[tuple[str, str, str, str, str]]:
    """The table's rows as text, in COLUMNS order."""
    return [(d.point, d.study, d.warmray, KINDS[d.kind], d.to_match) for d in DIFFERENCES]


def markdown() -> str:
    """The table as Markdown (pipes in cells escaped)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows():
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines)


def readme_section() -> str:
    """What README.md holds between its markers: the table, markers included."""
    return f"{README_START}\n{markdown()}\n{README_END}"


def with_section(readme: str) -> str:
    """`readme` with the section between the markers replaced by the current table.

    Raises:
        ValueError: the README lacks the markers.
    """
    start, end = readme.find(README_START), readme.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"README.md has no '{README_START}' ... '{README_END}' section.")
    return readme[:start] + readme_section() + readme[end + len(README_END) :]


def main(argv: list[str] | None = None) -> int:
    """Print the table, or with --readme PATH rewrite that file's section."""
    parser = argparse.ArgumentParser(description="The 'Differences from the study' table.")
    parser.add_argument("--readme", type=Path, help="rewrite this README's differences section")
    args = parser.parse_args(argv)
    if args.readme is None:
        print(markdown())
        return 0
    try:
        args.readme.write_text(with_section(args.readme.read_text()))
    except (OSError, ValueError) as e:
        print(f"warmray.report.differences: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
