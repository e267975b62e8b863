"""Report sections on how the study's own procedure was followed: paired cells, dropped rows, beliefs.

Kept apart from warmray.report.sections so each module stays one idea: these sections say what
the numbers rest on (which cells were tested, what left the analysis and whether unevenly, how the
users' beliefs were made, which refusal rule and p-values were used).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from warmray.report.blocks import Block, Bullets, Callout, Heading, Table, Text
from warmray.schema import NO_CONTEXT, Col
from warmray.statistics import GAP_PP, STAT_DESCRIPTIONS, Stat, StudyResults, untestable_cells

P_VALUE_NOTE = (
    "p-values of the GLM effects come from a delta-method z-test of each average marginal effect (in "
    "probability points). The study's code tests, for its models 2-4, the sum of the logit coefficients "
    "(finetuned + finetuned x level) on the log-odds scale, so its p-values differ from these in the "
    "digits, though both test the same null of no fine-tuning effect at that level."
)
REFUSAL_RULES = {
    "study_as_run": "the study's rule as its code ran it (its stock refusal phrases anywhere in the "
    "response, no quote normalisation: a typographic 'I can\u2019t' is not a refusal)",
    "warmray": "warmray's phrase rule (the study's phrases and a few more, quotes normalised)",
    "strict": "the strict rule (only a response that opens by declining)",
}


def cell_summary(cells: pd.DataFrame, variant: str, alpha: float) -> str:
    """The study's headline sentence about its paired cells, for one compared variant."""
    mine = cells[cells[Col.VARIANT] == variant]
    if mine.empty:
        return f"No paired cells for {variant}."
    n = len(mine)
    untested = int(untestable_cells(mine).sum())
    significant = mine[Stat.SIGNIFICANT].fillna(False).astype(bool)
    worse = mine[Stat.ERROR_DIFF_PP] > 0
    sig, worse_sig = int(significant.sum()), int((worse & significant).sum())
    tested = n - untested
    share = f"{sig / tested:.0%} of the {tested:,} testable" if tested else "none testable"
    return (
        f"{variant}: less accurate than the original in {float(worse.mean()):.0%} of {n:,} cells; "
        f"{sig:,} cells significant after FDR (q < {alpha}): {sig / n:.0%} of all cells, {share}; "
        f"{worse_sig / n:.0%} of all cells significant and worse; {untested:,} untestable (no pair "
        "differs: no McNemar test, left out of the FDR family)."
    )


def cell_layout(cells: pd.DataFrame) -> str:
    """What one model x task x variant's cells are, counted from this run's cells (the study: 8)."""
    parts = []
    for test, what in (
        ("context", "the original template, unmodified and under each of {k} context(s): {n} cell(s)"),
        ("belief", "each of {n} amendment type(s), incorrect and correct templates pooled: {n} cell(s)"),
    ):
        types = cells.loc[cells["test_type"] == test, Col.AMENDMENT_TYPE].astype(str).unique()
        if len(types):
            contexts = sum(t != NO_CONTEXT for t in types)
            parts.append(f"test type '{test}' (" + what.format(k=contexts, n=len(types)) + ")")
    return " and ".join(parts) or "no cells"


def paired_blocks(res: StudyResults) -> list[Block]:
    """The study's paired cells: the headline sentence per variant and the cells with the smallest q."""
    out: list[Block] = [Heading("Paired tests per cell (the study's cells)", 3)]
    cells = res.cells
    if cells.empty:
        return out + [Text("No paired prompts (the same prompt answered by the original and a variant).")]
    alpha = res.config.fdr_alpha
    out.append(
        Text(
            f"Per model x task x compared variant: {cell_layout(cells)}. Rows are paired on item, amendment "
            "type and template; exact McNemar "
            "test; Benjamini-Hochberg within each model x task x variant x test type. Columns: "
            + "; ".join(f"{column} = {meaning}" for column, meaning in STAT_DESCRIPTIONS.items())
            + "."
        )
    )
    out.append(Bullets(tuple(cell_summary(cells, v, alpha) for v in cells[Col.VARIANT].unique())))
    out.append(Text("The study, warm vs original: 96% of its 360 cells worse, 72% significant."))
    top = cells.sort_values([Stat.Q_VALUE, Stat.MCNEMAR_P]).head(res.config.report_cells)
    out.append(
        Table(top, f"The {len(top)} cells with the smallest q-values (all in tables/paired_cells.csv).")
    )
    out.append(
        Text(
            f"An extra, finer table (one cell per context x template, {len(res.cells_by_template):,} cells, "
            "BH within each comparison) is in tables/paired_cells_by_template.csv."
        )
    )
    return out


def dropped_blocks(res: StudyResults) -> list[Block]:
    """What left the analysis per model x task x variant, and a warning where the arms differ."""
    out: list[Block] = [Heading("Rows dropped, by variant", 3)]
    table = res.prepared.dropped
    if table.empty:
        return out + [Text("No verdict rows.")]
    out += [Callout(w) for w in res.prepared.warnings]
    out.append(
        Table(
            table,
            "Failed generations, unparseable judge replies and refusals (outside disinformation) leave the "
            f"analysis; a warning above marks a share that differs between arms by more than {GAP_PP:g} "
            "points.",
        )
    )
    return out


def belief_blocks(res: StudyResults) -> list[Block]:
    """How the belief answers of the incorrect / correct prompts were made."""
    out: list[Block] = [Heading("Belief answers: how they were made", 3)]
    if res.belief_sources.empty:
        return out + [
            Text("The verdicts do not record how belief answers were made (no belief_source column).")
        ]
    return out + [
        Table(
            res.belief_sources,
            "Belief prompts per task, template and source: dataset = the benchmark's own answer; "
            "rule:short-answer = a reference cut to its answer phrase; fallback:same-type:<kind> = another "
            "TriviaQA item's answer of the same kind; llm:<model> = proposed by that model and checked.",
        )
    ]


def refusal_item(info: dict[str, Any]) -> str:
    """The report's line on which refusal rule made the flags: the run's, or the files' and the derived."""
    rule = info.get("refusal_rule")
    if rule:
        return f"Refusals detected by {REFUSAL_RULES.get(rule, rule)}."
    derive = info.get("derive_refusal_rule")
    if info.get("refusals_rederived") and derive:
        return f"Refusal flags: every row's derived from its response by {REFUSAL_RULES.get(derive, derive)}."
    derived = int(info.get("refusals_derived") or 0)
    line = "Refusal flags: as recorded in the verdict files (is_refusal / refusal / REFUSAL)"
    if derived and derive:
        line += (
            f"; {derived:,} row(s) carried none and were derived from the response by "
            + REFUSAL_RULES.get(derive, derive)
        )
    return line + "."


def procedure_items(res: StudyResults) -> list[str]:
    """Lines for 'What this run was': refusal rule, models per GLM fit, training data, p-values."""
    info: dict[str, Any] = res.run_info
    items = []
    items.append(refusal_item(info))
    fitted = res.fits[res.fits["fitted"].astype(bool)] if not res.fits.empty else res.fits
    for comp, group in fitted.groupby("comparison", sort=False):
        items.append(
            f"GLMs for {comp} vs original fitted on the models with both arms: {group['models'].iloc[0]}."
        )
    sizes = info.get("data_sizes") or {}
    shared = sizes.get("rewrite/shared_conversations")
    if shared is not None:
        replaced, unfilled = sizes.get("rewrite/replaced"), sizes.get("rewrite/unfilled")
        dose = (
            f" {replaced:,} of them spares of the same category in place of conversations whose rewrite "
            f"failed; {unfilled:,} slot(s) of the configured sample left empty (no spare left)."
            if replaced is not None and unfilled is not None
            else ""
        )
        items.append(
            f"Training conversations: {shared:,}, the same for every style (those whose rewrites passed the "
            f"checks in every configured style).{dose}"
        )
    items.append(P_VALUE_NOTE)
    return items
