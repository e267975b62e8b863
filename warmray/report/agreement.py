"""The report's judge-agreement section: how far the LLM judge and the reference grader agree.

Shown next to the headline effects when the run's judge stage kept both verdicts (an LLM judge with
`judge.keep_reference`): a reader then sees how much the grading itself can be trusted.
"""

from __future__ import annotations

from pathlib import Path

from warmray.grading import KAPPA_UNDEFINED, kappa_text
from warmray.report.blocks import Block, Heading, Table, Text
from warmray.rundir import RunDir
from warmray.schema import read_table


def judge_agreement_blocks(out_dir: Path) -> list[Block]:
    """The section, when the run directory holding `out_dir` has judge/agreement.parquet; else nothing.

    The analyze stage writes into a folder directly inside its run directory, so the run's judge output
    sits beside it; `analyze --from` elsewhere has no such table and gets no section.
    """
    path = RunDir(Path(out_dir).resolve().parent).table("judge", "agreement")
    if not path.is_file():
        return []
    table = read_table(path, "judge_agreement")
    overall = table[table["scope"] == "overall"].iloc[0]
    shown = table.astype({"kappa": object})
    undefined = table["kappa"].isna() & (table["n"] > 0)
    shown.loc[undefined, "kappa"] = KAPPA_UNDEFINED
    return [
        Heading("Judge agreement", 3),
        Text(
            f"The LLM judge and the reference grader agree on {overall['agreement']:.1%} of "
            f"{int(overall['n'])} responses; Cohen's kappa {kappa_text(overall)}. Refusals are set by the "
            "same rule on both sides. Low agreement means the error rates depend on the grader; a kappa "
            "is undefined where one grader gives every response the same label (its agreement is then "
            "that label's share, not a measure of judgement)."
        ),
        Table(shown, "Agreement and Cohen's kappa (95% CI), overall, per task and per variant."),
    ]
