"""The profile card: the profile's tables side by side, as card.md, card.html and card.json.

The card reuses the report's document model (warmray.report.blocks), so the Markdown and the
self-contained HTML say the same things; card.json holds every number at full precision.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from warmray.audit.profile import Profile
from warmray.report import (
    Block,
    Bullets,
    Callout,
    Heading,
    Table,
    Text,
    caveats,
    render_html,
    render_markdown,
)
from warmray.schema import AMENDMENT_TYPES, Col
from warmray.statistics import Stat

TITLE = "warmray audit: reliability and sycophancy profile"
BELIEF_ORDER = ("user states a wrong answer", "user doubts the right answer")
SMALL_SAMPLE = 30  # bare answers per task below which the card warns that intervals are wide


def _pct(value: float, low: float, high: float, n: int) -> str:
    if n == 0 or not math.isfinite(value):
        return "–"
    return f"{value:.1f}% [{low:.1f}, {high:.1f}] (n={n})"


def _pp(row: pd.Series) -> str:
    if not math.isfinite(row["ame_pp"]):
        return str(row["note"]) or "not estimated"
    ci = (
        f"[{row['ci_low_pp']:+.1f}, {row['ci_high_pp']:+.1f}]"
        if math.isfinite(row["ci_low_pp"])
        else "(no CI)"
    )
    return f"{row['ame_pp']:+.1f} pp {ci}"


def _side_by_side(
    frame: pd.DataFrame, index: str, arms: list[str], cell: Any, order: list[str]
) -> pd.DataFrame:
    """One row per `index` value, one column per arm, each cell formatted by `cell(row)`."""
    if frame.empty:
        return pd.DataFrame({index: []})
    shown = frame.assign(_text=[cell(r) for _, r in frame.iterrows()])
    wide = shown.pivot(index=index, columns="arm", values="_text")
    rows = [v for v in order if v in wide.index] + [v for v in wide.index if v not in order]
    wide = wide.reindex(index=rows, columns=[a for a in arms if a in wide.columns]).fillna("–")
    return wide.reset_index()


def build_card(profile: Profile, run: dict[str, Any]) -> list[Block]:
    """The card as blocks, in reading order."""
    arms = profile.arms
    blocks: list[Block] = [Heading(TITLE, 1), Text("Targets: " + ", ".join(arms) + ".")]
    blocks += caveats(run)
    if run.get("judge", "").startswith("reference"):
        blocks.append(
            Callout(
                "Verdicts come from reference answer matching, which is crude for free-text answers "
                "(TruthfulQA, MedQA asked open-ended, MASK): pass --judge MODEL|URL for an LLM judge."
            )
        )
    small = profile.errors[profile.errors["n"] < SMALL_SAMPLE]
    if len(small):
        blocks.append(
            Callout(f"Small samples ({int(small['n'].min())} bare answers in some tasks): wide intervals.")
        )
    blocks += _reliability(profile, arms)
    blocks += _sycophancy(profile, arms)
    blocks += _worst(profile)
    blocks += _between(profile)
    blocks += _what_ran(run, profile)
    return blocks


def _reliability(profile: Profile, arms: list[str]) -> list[Block]:
    errors = _side_by_side(
        profile.errors,
        Col.TASK,
        arms,
        lambda r: _pct(r["error_pct"], r["error_ci_low_pct"], r["error_ci_high_pct"], int(r["n"])),
        [],
    )
    contexts = _side_by_side(profile.contexts, "condition", arms, _pp, list(AMENDMENT_TYPES))
    beliefs = _side_by_side(profile.beliefs, "condition", arms, _pp, list(BELIEF_ORDER))
    return [
        Heading("Error rate with no context"),
        Table(errors, "The bare question (no context, no user belief): error %, 95% Wilson CI, answers."),
        Heading("Effect of an interpersonal context"),
        Table(
            contexts,
            "Context vs none, same target, no user belief: average marginal effect on the error rate in "
            "percentage points (logit GLM with task, 95% CI). Positive: the context makes it err more.",
        ),
        Heading("Effect of a user belief"),
        Table(
            beliefs,
            "Belief vs none, same target, every context: average marginal effect in pp (logit GLM with "
            "task x context, 95% CI).",
        ),
    ]


def _sycophancy(profile: Profile, arms: list[str]) -> list[Block]:
    syc = profile.sycophancy
    if syc.empty:
        why = "No item was answered right without a belief and also asked with one: nothing to flip."
        return [Heading("Sycophancy"), Text(why)]

    def cell(name: str) -> Any:
        return lambda r: _pct(
            r[f"{name}_pct"], r[f"{name}_ci_low_pct"], r[f"{name}_ci_high_pct"], int(r[f"n_{name}"])
        )

    order = list(AMENDMENT_TYPES)
    return [
        Heading("Sycophancy"),
        Text(
            "Among items a target answered right with no belief stated (in the same context): how often "
            "it then answers wrongly when the user states a wrong answer (adopts the wrong belief), and "
            "when the user doubts the right answer (abandons it)."
        ),
        Table(
            _side_by_side(syc, "context", arms, cell("adopts_wrong_belief"), order),
            "Adopts the wrong belief.",
        ),
        Table(
            _side_by_side(syc, "context", arms, cell("abandons_right_answer"), order),
            "Abandons the right answer.",
        ),
    ]


def _worst(profile: Profile) -> list[Block]:
    blocks: list[Block] = [Heading("Worst cells")]
    if profile.worst.empty:
        return [*blocks, Text("No cells.")]
    shown = profile.worst[
        ["arm", Col.TASK, "context", "belief", "n", "errors", "error_pct", "error_ci_low_pct"]
    ]
    blocks.append(
        Table(shown, "Per target, the cells with the highest error rate (ranked by the CI's low end).")
    )
    for (arm, task, context, belief), group in profile.examples.groupby(
        ["arm", Col.TASK, "context", "belief"], sort=False
    ):
        blocks.append(Heading(f"{arm}: {task}, {context}, {belief}", 3))
        blocks += [
            Bullets(
                (
                    f"User: {ex.prompt}",
                    f"Reply: {ex.response}",
                    f"Reference answer: {ex.correct_answer} — verdict {ex.verdict} ({ex.item_id})",
                )
            )
            for ex in group.itertuples(index=False)
        ]
    return blocks


def _between(profile: Profile) -> list[Block]:
    if profile.between.empty:
        return []
    errors = ["reference_error_pct", "arm_error_pct", Stat.ERROR_DIFF_PP]
    cols = ["measure", Stat.N_PAIRS, *errors, Stat.MCNEMAR_P, Stat.Q_VALUE]
    blocks: list[Block] = [Heading("Between targets")]
    for arm, group in profile.between.groupby("arm", sort=False):
        ref = group["reference"].iloc[0]
        blocks.append(
            Table(
                group[cols],
                f"{arm} vs {ref} on the same prompts: error %, error difference (arm minus reference) in pp, "
                "exact McNemar test, "
                "Benjamini–Hochberg q over this comparison's rows.",
            )
        )
    return blocks


def _what_ran(run: dict[str, Any], profile: Profile) -> list[Block]:
    targets = [f"{t['name']}: {t['target']} ({t['kind']})" for t in run.get("targets", [])]
    counts = ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in profile.counts.items())
    sizes = ", ".join(f"{k}: {v}" for k, v in run.get("sizes", {}).items())
    seconds = ", ".join(f"{k} {v:.0f}s" for k, v in run.get("seconds", {}).items())
    versions = "; ".join(  # by the stages that recorded them: {"grid, generate": {"vllm": "0.32.0"}}
        f"{stages}: " + ", ".join(f"{k} {v}" for k, v in packages.items())
        for stages, packages in run.get("versions", {}).items()
    )
    return [
        Heading("What was run"),
        Bullets(
            (
                *targets,
                f"Judge: {run.get('judge', '')}",
                f"Sampling: {run.get('sampling', '')}",
                f"Sizes: {sizes}",
                f"Verdicts: {counts}",
                f"Time: {seconds}; total {run.get('total_seconds', 0):.0f}s from {run.get('started', '')}",
                f"Run directory: {run.get('run_dir', '')}",
                f"Versions: {versions}",
            )
        ),
    ]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records")) if len(frame) else []


def write_card(profile: Profile, run: dict[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write card.md, card.html and card.json into `out_dir`; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    blocks = build_card(profile, run)
    paths = {"md": out_dir / "card.md", "html": out_dir / "card.html", "json": out_dir / "card.json"}
    paths["md"].write_text(render_markdown(blocks, out_dir), encoding="utf-8")
    paths["html"].write_text(render_html(blocks, TITLE), encoding="utf-8")
    data = {
        "run": run,
        "arms": profile.arms,
        "counts": profile.counts,
        "tables": {n: _records(t) for n, t in profile.tables().items()},
    }
    paths["json"].write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    return paths
