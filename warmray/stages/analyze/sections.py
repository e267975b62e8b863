"""What the report says, in order: differences from the study, caveats, headlines, tables, figures, ...

... and what the run was.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from warmray.differences import COLUMNS, rows
from warmray.stages.analyze.agreement_report import judge_agreement_blocks
from warmray.stages.analyze.report import Block, Bullets, Callout, Heading, Image, Table, Text
from warmray.stages.analyze.results import FIGURES, StudyResults
from warmray.stages.analyze.study_sections import (
    belief_blocks,
    dropped_blocks,
    paired_blocks,
    procedure_items,
)

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


def build_blocks(res: StudyResults, out_dir: Path) -> list[Block]:
    """The whole report as blocks."""
    blocks: list[Block] = [Heading("warmray: warmth fine-tuning and reliability", 1)]
    blocks += differences()
    blocks += caveats(res.run_info)
    blocks += headline(res)
    blocks += judge_agreement_blocks(out_dir)
    blocks += tables(res)
    blocks += figures(res)
    blocks += run_description(res)
    return blocks


def differences() -> list[Block]:
    """The 'Differences from the study' table (warmray.differences, the one source README shares)."""
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
    if run_info.get("verdicts_from") == "reference" and "llm judge" in judge:
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
    """The four headline marginal effects, in words and as a table beside the study's values."""
    out: list[Block] = [Heading("Headline effects")]
    comp = res.headline_comparison
    if comp is None:
        return out + [Text("No fine-tuned variant to compare with the original model: no effects to report.")]
    out.append(
        Text(
            f"Average marginal effect of the {comp} variant on the error rate, in percentage points (pp), "
            "from binomial GLMs with task and model fixed effects; 95% CIs by the delta method."
        )
    )
    rows, sentences = [], []
    for label, glm, level, study in HEADLINES:
        hit = _effect(res.effects, comp, glm, level)
        missing = _why_missing(res, comp, glm, level) if hit is None else ""
        sentence, row = _headline_row(label, glm, hit, missing)
        sentences.append(sentence)
        rows.append({**row, "study (pp)": f"{study:+.2f}"})
    return out + [Bullets(tuple(sentences)), Table(pd.DataFrame(rows), "Headline effects beside the study's")]


def _headline_row(label: str, glm: int, hit: dict | None, missing: str) -> tuple[str, dict[str, object]]:
    """One headline effect as a sentence and as a table row."""
    if hit is None:
        row = {"effect": label, "glm": glm, "this run (pp)": "–", "95% CI": "–", "p_value": float("nan")}
        return f"{label}: not estimated ({missing})", row
    ame, p = f"{hit['ame_pp']:+.2f}", float(hit["p_value"])
    if pd.isna(hit["se_pp"]):
        ci, detail = "–", f"no CI: {hit['note']}"
    else:
        ci = f"{hit['ci_low_pp']:+.2f} to {hit['ci_high_pp']:+.2f}"
        detail = f"95% CI {ci}; p {'< 0.001' if p < 0.001 else f'= {p:.3f}'}"
    row = {"effect": label, "glm": glm, "this run (pp)": ame, "95% CI": ci, "p_value": p}
    return f"{label}: {ame} pp ({detail}; n = {hit['n']:,}).", row


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
    """The tables, most telling first; the CSVs under tables/ hold every column at full precision."""
    out: list[Block] = [Heading("Tables"), Text("Every table is also in tables/*.csv at full precision.")]
    out += _glm_tables(res)
    out.append(Heading("Error rate per model and task, no context", 3))
    out.append(Table(res.errors, "Original prompts without context; 95% Wilson CIs."))
    out += paired_blocks(res)
    out += dropped_blocks(res)
    out += belief_blocks(res)
    out.append(Heading("Capabilities", 3))
    out.append(
        Table(res.capability, "Score per model, task and variant; 95% Wilson CIs.")
        if res.capability is not None
        else Text("No capability scores in this run.")
    )
    out.append(Heading("Warmth by checkpoint", 3))
    out.append(
        Table(res.warmth, "Mean SocioT warmth; epoch 0 = the original model; 95% t-intervals.")
        if res.warmth is not None
        else Text("No warmth scores in this run.")
    )
    return out


def _glm_tables(res: StudyResults) -> list[Block]:
    out: list[Block] = [Heading("GLM average marginal effects", 3)]
    if not res.effects.empty:
        shown = res.effects[_EFFECT_SHOWN].copy()
        shown["95% CI (pp)"] = [
            f"{lo:+.2f} to {hi:+.2f}" if pd.notna(lo) else "–"
            for lo, hi in zip(res.effects["ci_low_pp"], res.effects["ci_high_pp"], strict=True)
        ]
        shown["p_value"] = res.effects["p_value"]
        shown["note"] = res.effects["note"]
        out.append(
            Table(
                shown,
                "Effect of fine-tuning on the error rate (pp) by GLM and level; 'all' = every "
                "row the GLM used. error_*_pct are the raw rates in those rows.",
            )
        )
    fits = res.fits[["comparison", "glm", "glm_name", "fitted", "n", "models", "reason", "notes"]]
    out.append(Table(fits, "The GLMs: fitted or skipped, and why."))
    return out


def figures(res: StudyResults) -> list[Block]:
    """Each figure, or the reason it is absent."""
    out: list[Block] = [Heading("Figures")]
    for name, (caption, why) in FIGURES.items():
        path = res.figures.get(name)
        out.append(Image(path, caption) if path else Text(f"{caption.split('.')[0]}: not drawn — {why}"))
    return out


def run_description(res: StudyResults) -> list[Block]:
    """What the run was: models, judge, data sizes, rows set aside, settings, versions."""
    info, counts = res.run_info, res.prepared.counts
    items = [f"Models: {_pairs(info.get('models')) or 'as named in the verdicts'}"]
    items.append(f"Judge: {info.get('judge') or 'not recorded'}")
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
    for stage, note in (info.get("nondeterministic") or {}).items():
        items.append(f"Not repeatable ({stage}): {note}. `warmray compare RUN_A RUN_B` measures a rerun.")
    items.append(
        f"Settings: response-length covariate {'on' if res.config.length_covariate else 'off'}; FDR alpha "
        f"{res.config.fdr_alpha}; 'no belief' = original and original_neutral prompts (as in the study's "
        "code)."
    )
    if info.get("versions"):
        items.append(f"Versions: {_pairs(info['versions'])}")
    items.append(f"Analysed: {time.strftime('%Y-%m-%d %H:%M:%S')}")
    items += procedure_items(res)
    items += res.prepared.notes
    frame = res.prepared.frame
    sizes = frame.groupby(["model", "variant", "task"], observed=True).size().rename("rows").reset_index()
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
