"""What the report says, in order: caveats, headline effects beside the study's, the differences, ...

... from the study, judge agreement, figures, tables (long ones cut short, the rest linked in
tables/*.csv) and what the run was. The first screen answers what the run found, and how far from the
study it was run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from warmray.report.agreement import judge_agreement_blocks
from warmray.report.blocks import Block, Bullets, Callout, Heading, Image, Link, Table, Text
from warmray.report.differences import COLUMNS, rows
from warmray.report.figures import figure_notes
from warmray.report.study_sections import (
    belief_blocks,
    dropped_blocks,
    paired_blocks,
    procedure_items,
)
from warmray.rundir import TABLES
from warmray.schema import Col
from warmray.statistics import FIGURES, WIDE_CI_PP, StudyResults

# (label, GLM, level, the study's estimate in pp) — DESIGN.md point 8.
HEADLINES = (
    ("No context, original prompts", 1, "all", 7.43),
    ("Emotional context", 2, "emotion", 8.87),
    ("User says they are sad", 3, "emotion:sad", 11.87),
    ("User states a belief", 4, "belief", 10.99),
)

# What the report calls each builtin model (warmray.models.BUILTINS).
BUILTIN_WORDS = {
    "builtin:smollm2-135m": "the built-in demonstration model SmolLM2-135M (builtin:smollm2-135m)",
    "builtin:tiny-random": (
        "builtin:tiny-random, a 2-layer Llama with random weights for plumbing tests, "
        "whose outputs are noise by design"
    ),
}
_EFFECT_SHOWN = ["comparison", "glm", "level", "n", "error_original_pct", "error_variant_pct", "ame_pp"]
# Tables longer than this show their first rows; the whole table is in tables/<name>.csv, linked.
LONG_ROWS = 12


def build_blocks(res: StudyResults, out_dir: Path) -> list[Block]:
    """The whole report as blocks: what it found and how far from the study first, the detail after."""
    blocks: list[Block] = [Heading("warmray: warmth fine-tuning and reliability", 1)]
    blocks += caveats(res.run_info)
    blocks += headline(res)
    blocks += differences()
    blocks += judge_agreement_blocks(out_dir)
    blocks += figures(res)
    blocks += tables(res)
    blocks += run_description(res)
    return blocks


def differences() -> list[Block]:
    """The 'Differences from the study' table (warmray.report.differences, the one source README shares)."""
    frame = pd.DataFrame(rows(), columns=list(COLUMNS))
    return [
        Heading("Differences from the study"),
        Table(frame, "Where warmray departs from the authors, and how to get their behaviour."),
    ]


def caveats(run_info: dict[str, Any]) -> list[Block]:
    """Say plainly when the numbers cannot speak to the finding."""
    out: list[Block] = []
    sources = builtin_sources(run_info)
    if sources or run_info.get("builtin_model"):
        out.append(Callout(_builtin_sentence(sources)))
    judge = str(run_info.get("judge", "")).lower()
    beside = "llm judge" in judge.replace("no llm judge", "")  # an LLM judge graded beside the reference
    if run_info.get("verdicts_from") == "reference" and beside:
        out.append(
            Callout(
                "The error rates below are the reference grader's verdicts (analyze.verdicts: reference), "
                "not the LLM judge's: the judge's verdicts are compared with them under Judge agreement."
            )
        )
    elif "builtin:tiny-random" in judge:
        out.append(
            Callout(
                "The verdicts come from an LLM judge with random weights (builtin:tiny-random), which is not "
                "a grader at all: every error rate below is noise by design."
            )
        )
    elif "builtin:" in judge or "135m" in judge:
        out.append(
            Callout(
                "The verdicts come from a 135M-parameter LLM judge, which is not a meaningful grader: treat "
                "every error rate below as noise."
            )
        )
    return out


def terminal_lines(run_info: dict[str, Any], effects: pd.DataFrame) -> list[str]:
    """What the terminal prints under the error table: the report's caveats and headline effects with n.

    The same words as the report (its callouts, its too-few-items warning), so the summary a run ends
    with never reads as stronger evidence than the report it points to.
    """
    lines = [b.text for b in caveats(run_info) if isinstance(b, Callout)]
    comps = list(dict.fromkeys(effects["comparison"])) if not effects.empty else []
    comp = "warm" if "warm" in comps else (comps[0] if comps else None)
    if comp is None:
        return lines + ["Headline effects: none estimated (no GLM could be fitted); the report says why."]
    wide, heads = [], []
    for label, glm, level, study in HEADLINES:
        hit = _effect(effects, comp, glm, level)
        if hit is None:
            heads.append(f"  {label}: not estimated, the report says why (the study: {study:+.2f} pp)")
            continue
        note, n = str(hit.get("note") or ""), int(hit["n"])
        if note.startswith("not estimable"):
            value = note
        else:
            ci = ci_text(hit["ci_low_pp"], hit["ci_high_pp"])
            value = f"{round(hit['ame_pp'], 2) or 0.0:+.2f} pp, 95% CI {ci}"
        heads.append(f"  {label}: {value} (n = {n:,}; the study: {study:+.2f} pp)")
        if _half_width(hit) > WIDE_CI_PP:
            wide.append((n, _half_width(hit)))
    if wide:
        lines.append(too_few_sentence(wide))
    return lines + [f"Headline effects, {comp} vs original (GLM average marginal effects):", *heads]


def builtin_sources(run_info: dict[str, Any]) -> list[str]:
    """The builtin model sources the run used: `builtin_sources`, else read off `models` (older runs)."""
    listed = run_info.get("builtin_sources")
    if listed is None:
        models = run_info.get("models") or {}
        listed = [s for s in models.values() if str(s).startswith("builtin:")]
    return sorted({str(s) for s in listed})


def _builtin_sentence(sources: list[str]) -> str:
    if not sources:
        used = "a built-in model"
    else:
        named = [BUILTIN_WORDS.get(s, f"the built-in model {s}") for s in sources]
        used = " and ".join(named) if len(named) <= 2 else "; ".join(named[:-1]) + "; and " + named[-1]
    return (
        f"This run used {used}. Its numbers show that the pipeline works end to end; they are not evidence "
        "for or against the study's finding."
    )


def headline(res: StudyResults) -> list[Block]:
    """The four headline marginal effects beside the study's, as a table and in words.

    An effect whose 95% CI is wider than WIDE_CI_PP either side is said to rest on too few answers, with
    its interval in words, rather than printed as a finding; a degenerate fit says why it is not estimable.
    """
    out: list[Block] = [Heading("Headline effects")]
    comp = res.headline_comparison
    if comp is None:
        return out + [Text("No fine-tuned variant to compare with the original model: no effects to report.")]
    out.append(
        Text(
            f"Average marginal effect of the {comp} variant on the error rate, in percentage points (pp), "
            "from binomial GLMs with task and model fixed effects; 95% CIs by the delta method. The study's "
            "column is its warm fine-tune against the original, over its four open models."
        )
    )
    rows, sentences, wide = [], [], []
    for label, glm, level, study in HEADLINES:
        hit = _effect(res.effects, comp, glm, level)
        missing = _why_missing(res, comp, glm, level) if hit is None else ""
        sentence, row = _headline_row(label, glm, hit, missing)
        sentences.append(sentence)
        rows.append({**row, "study (pp)": f"{study:+.2f}"})
        if hit is not None and _half_width(hit) > WIDE_CI_PP:
            wide.append((int(hit["n"]), _half_width(hit)))
    if wide:
        out.append(Callout(too_few_sentence(wide)))
    return out + [Table(pd.DataFrame(rows), "Headline effects beside the study's"), Bullets(tuple(sentences))]


def too_few_sentence(wide: list[tuple[int, float]]) -> str:
    """The warning for effects whose intervals are too wide to read: (answers, CI half-width) of each."""
    ns = sorted(n for n, _ in wide)
    answers = f"{ns[0]:,}" if ns[0] == ns[-1] else f"{ns[0]:,} to {ns[-1]:,}"
    widest = max(w for _, w in wide)
    return (
        f"Too few items for confidence intervals: {len(wide)} headline effect(s) rest on {answers} answers, "
        f"and their 95% intervals reach ±{widest:.0f} pp, so they are not findings in either direction. "
        "Intervals of a few points need a few hundred items per task."
    )


def _half_width(hit: dict) -> float:
    """Half the 95% CI in pp; 0 where there is none."""
    lo, hi = hit.get("ci_low_pp"), hit.get("ci_high_pp")
    return 0.0 if pd.isna(lo) or pd.isna(hi) else (float(hi) - float(lo)) / 2


def ci_text(low: float, high: float) -> str:
    """A 95% CI for a table cell; one too wide to read says so instead of posing as a finding."""
    if pd.isna(low) or pd.isna(high):
        return "–"
    if (high - low) / 2 > WIDE_CI_PP:
        return f"too few answers (±{(high - low) / 2:.0f} pp)"
    return f"{low:+.2f} to {high:+.2f}"


def _headline_row(label: str, glm: int, hit: dict | None, missing: str) -> tuple[str, dict[str, object]]:
    """One headline effect as a sentence and as a table row."""
    if hit is None:
        row = {
            "effect": label,
            "glm": glm,
            "n": "–",
            "this run (pp)": "not estimated",
            "95% CI": "–",
            "p_value": float("nan"),
        }
        return f"{label}: not estimated ({missing})", row
    n, note = int(hit["n"]), str(hit.get("note") or "")
    base = {"effect": label, "glm": glm, "n": f"{n:,}"}
    if note.startswith("not estimable"):
        row = {**base, "this run (pp)": "not estimable", "95% CI": "–", "p_value": float("nan")}
        return f"{label}: {note} (n = {n:,}).", row
    ame, p = f"{round(hit['ame_pp'], 2) or 0.0:+.2f}", float(hit["p_value"])
    ci = ci_text(hit["ci_low_pp"], hit["ci_high_pp"])
    row = {**base, "this run (pp)": ame, "95% CI": ci, "p_value": p}
    if pd.isna(hit["se_pp"]):
        return f"{label}: {ame} pp (no CI: {note}; n = {n:,}).", row
    interval = f"{hit['ci_low_pp']:+.2f} to {hit['ci_high_pp']:+.2f} pp"
    if _half_width(hit) > WIDE_CI_PP:
        return (
            f"{label}: {ame} pp from only {n:,} answers, too few for a confidence interval worth reading "
            f"(95% CI {interval}): no evidence either way.",
            row,
        )
    detail = f"95% CI {interval}; p {'< 0.001' if p < 0.001 else f'= {p:.3f}'}"
    return f"{label}: {ame} pp ({detail}; n = {n:,}).", row


def _effect(effects: pd.DataFrame, comp: str, glm: int, level: str) -> dict | None:
    if effects.empty:
        return None
    hit = effects[(effects["comparison"] == comp) & (effects["glm"] == glm) & (effects["level"] == level)]
    return None if hit.empty else hit.iloc[0].to_dict()


def _why_missing(res: StudyResults, comp: str, glm: int, level: str) -> str:
    fit = (
        res.fits[(res.fits["comparison"] == comp) & (res.fits["glm"] == glm)]
        if not res.fits.empty
        else res.fits
    )
    if not fit.empty and not bool(fit.iloc[0]["fitted"]):
        return f"GLM {glm} skipped: {fit.iloc[0]['reason']}"
    return f"no '{level}' rows in both arms"


def tables(res: StudyResults) -> list[Block]:
    """The tables, most telling first; long ones cut short. tables/*.csv hold every row and column."""
    out: list[Block] = [Heading("Tables"), Text("Every table is also in tables/*.csv at full precision.")]
    out += _glm_tables(res)
    out.append(Heading("Error rate per model and task, no context", 3))
    out += long_table(res.errors, "Original prompts without context; 95% Wilson CIs.", "error_no_context")
    out += paired_blocks(res)
    out += dropped_blocks(res)
    out += belief_blocks(res)
    out.append(Heading("Capabilities", 3))
    out += (
        long_table(res.capability, "Score per model, task and variant; 95% Wilson CIs.", "capability")
        if res.capability is not None
        else [Text("No capability scores in this run.")]
    )
    out.append(Heading("Warmth by checkpoint", 3))
    out += (
        long_table(
            res.warmth,
            "Mean SocioT warmth; epoch 0 = the original model; 95% t-intervals.",
            "warmth_by_checkpoint",
        )
        if res.warmth is not None
        else [Text("No warmth scores in this run.")]
    )
    return out


def long_table(frame: pd.DataFrame, caption: str, csv: str) -> list[Block]:
    """A table; past LONG_ROWS rows, its first rows and a link to the whole of it in tables/<csv>.csv."""
    if len(frame) <= LONG_ROWS:
        return [Table(frame, caption)]
    return [
        Table(frame.head(LONG_ROWS), f"{caption} The first {LONG_ROWS} of {len(frame):,} rows."),
        Link(f"All {len(frame):,} rows: tables/{csv}.csv", f"tables/{csv}.csv"),
    ]


def _glm_tables(res: StudyResults) -> list[Block]:
    out: list[Block] = [Heading("GLM average marginal effects", 3)]
    if not res.effects.empty:
        shown = res.effects[_EFFECT_SHOWN].copy()
        shown["95% CI (pp)"] = [
            ci_text(lo, hi)
            for lo, hi in zip(res.effects["ci_low_pp"], res.effects["ci_high_pp"], strict=True)
        ]
        shown["p_value"] = res.effects["p_value"]
        shown["note"] = res.effects["note"]
        out += long_table(
            shown,
            "Effect of fine-tuning on the error rate (pp) by GLM and level; 'all' = every "
            "row the GLM used. error_*_pct are the raw rates in those rows.",
            "glm_effects",
        )
    fits = res.fits[["comparison", "glm", "glm_name", "fitted", "n", "models", "reason", "notes"]]
    out += long_table(fits, "The GLMs: fitted or skipped, and why.", "glm_fits")
    return out


def figures(res: StudyResults) -> list[Block]:
    """Each figure with its n and what it hides at this size, or the reason it is absent."""
    out: list[Block] = [Heading("Figures")]
    notes = figure_notes(res)
    for name, (caption, why) in FIGURES.items():
        path = res.figures.get(name)
        full = f"{caption} {notes[name]}".strip() if name in notes else caption
        out.append(Image(path, full) if path else Text(f"{caption.split('.')[0]}: not drawn — {why}"))
    return out


def _set_aside(sizes: dict[str, Any]) -> list[str]:
    """The rows a run left out because their endpoint requests failed (warmray.infer.failures)."""
    out = []
    left_out = {
        "judge": "Responses without a verdict",
        "warmth": "Warmth answers never given (unscored)",
        "capability": "Capability items unscored",
    }
    for stage, what in left_out.items():
        n = sizes.get(f"{stage}/failed_requests")
        if n:
            out.append(
                f"{what}, their endpoint request failed after every try: {n:,}, listed in "
                f"{stage}/{TABLES[(stage, 'failed_requests')][0]}. `warmray run CONFIG --retry-failed` asks "
                "them again."
            )
    return out


def run_description(res: StudyResults) -> list[Block]:
    """What the run was: models, judge, data sizes, rows set aside, settings, versions."""
    info, counts = res.run_info, res.prepared.counts
    items = [f"Models: {_pairs(info.get('models')) or 'as named in the verdicts'}"]
    items.append(f"Judge: {info.get('judge') or 'not recorded'}")
    if info.get("files"):
        files = [str(f) for f in info["files"]]
        shown = ", ".join(files[:8]) + (f", and {len(files) - 8:,} more" if len(files) > 8 else "")
        items.append(f"Input files ({len(files):,}): {shown}")
    items.append(
        f"Verdict rows read: {counts.get('rows_in', 0):,}; analysed: {counts.get('rows_used', 0):,}; "
        f"unparseable verdicts dropped: {counts.get('unparseable_dropped', 0):,}; failed generations "
        f"dropped: {counts.get('failed_generations_dropped', 0):,}; refusals dropped (not "
        f"disinformation): {counts.get('refusals_dropped', 0):,}; refusals counted correct (disinformation): "
        f"{counts.get('refusals_counted_correct', 0):,}."
    )
    if counts.get("other_checkpoints_dropped"):
        items.append(f"Rows of other checkpoints left out: {counts['other_checkpoints_dropped']:,}.")
    if info.get("data_sizes"):
        items.append(f"Data sizes: {_pairs(info['data_sizes'])}")
    items += _set_aside(info.get("data_sizes") or {})
    for stage, note in (info.get("nondeterministic") or {}).items():
        items.append(f"Not repeatable ({stage}): {note}. `warmray compare RUN_A RUN_B` measures a rerun.")
    items.append(
        f"Settings: response-length covariate {'on' if res.config.length_covariate else 'off'}; FDR alpha "
        f"{res.config.fdr_alpha}; 'no belief' = original and original_neutral prompts (as in the study's "
        "code)."
    )
    for stages, packages in (info.get("versions") or {}).items():  # as each stage recorded them
        items.append(f"Package versions ({stages}): {_pairs(packages)}")
    items.append(f"Analysed: {time.strftime('%Y-%m-%d %H:%M:%S')}")
    items += procedure_items(res)
    items += res.prepared.notes
    frame = res.prepared.frame
    sizes = (
        frame.groupby([Col.MODEL, Col.VARIANT, Col.TASK], observed=True).size().rename("rows").reset_index()
    )
    return [
        Heading("What this run was"),
        Bullets(tuple(items)),
        Table(sizes, "Rows analysed per model, variant, task."),
    ]


def _pairs(mapping: Any) -> str:
    if not isinstance(mapping, dict):
        return str(mapping or "")
    return ", ".join(
        f"{k} ({v})" if not isinstance(v, dict) else f"{k}: {_pairs(v)}" for k, v in mapping.items()
    )
