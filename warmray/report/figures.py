"""Figures 1-5 of DESIGN.md point 9, drawn with matplotlib's object API (no pyplot state, no display).

Each function takes the tables it draws and returns a Figure, or None when its input is absent; the
report says which figures were not drawn and why.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from warmray.schema import BASE_VARIANT, NO_BELIEF_TEMPLATES, NO_CONTEXT, Col
from warmray.statistics import WIDE_CI_PP, level_order

if TYPE_CHECKING:
    from warmray.statistics import StudyResults

VARIANT_COLOURS = {"original": "#7f7f7f", "warm": "#d95f02", "cold": "#1f78b4", "warm_sysprompt": "#e7298a"}
VARIANT_LABELS = {
    "original": "original",
    "warm": "warm fine-tune",
    "cold": "cold fine-tune",
    "warm_sysprompt": "warm system prompt",
}
STYLE_COLOURS = {"warm": "#d95f02", "cold": "#1f78b4"}
CONDITION_COLOURS = {"none": "#66a61e", "+context": "#7570b3", "+context+belief": "#e6ab02"}
DPI = 110


def save(fig: Figure, path: Path) -> Path:
    """Write a figure as PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight", facecolor="white")
    return path


def _panels(
    n: int, title: str, width: float = 4.2, height: float = 3.6, max_cols: int = 4
) -> tuple[Figure, list]:
    cols = min(n, max_cols)
    rows = int(np.ceil(n / cols))
    fig = Figure(figsize=(width * cols, height * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=13, fontweight="bold")
    return fig, axes[:n]


def warmth_by_epoch(warmth: pd.DataFrame | None) -> Figure | None:
    """Figure 1: mean SocioT warmth against training epoch, per model, warm and cold styles."""
    if warmth is None or warmth.empty:
        return None
    models = sorted(warmth[Col.MODEL].astype(str).unique())
    fig, axes = _panels(len(models), "Figure 1. Warmth (SocioT) by training epoch")
    for ax, model in zip(axes, models, strict=True):
        for style, rows in warmth[warmth[Col.MODEL] == model].groupby(Col.STYLE, sort=True):
            rows = rows.sort_values(Col.EPOCH)
            colour = STYLE_COLOURS.get(str(style), "#333333")
            ax.plot(
                rows[Col.EPOCH], rows["warmth_mean"], marker="o", color=colour, label=f"{style} fine-tune"
            )
            ax.fill_between(rows[Col.EPOCH], rows["ci_low"], rows["ci_high"], color=colour, alpha=0.2, lw=0)
        ax.set_title(model)
        ax.set_xlabel("Training epoch (0 = original model)")
        ax.set_ylabel("Mean SocioT warmth (95% CI)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def scatter_rates(frame: pd.DataFrame, comparison: str) -> pd.DataFrame | None:
    """Figure 2's points: error rate of each arm per context group x belief x model x task x context.

    Columns `original`/`comparison` (rates) and `n` (answers of the two arms together); None when a side
    is missing.
    """
    df = frame[frame[Col.VARIANT].isin([BASE_VARIANT, comparison])]
    df = df[df[Col.PROMPT_TEMPLATE].isin([*NO_BELIEF_TEMPLATES, "incorrect"])]
    if df.empty or comparison not in set(df[Col.VARIANT]):
        return None
    wrong = np.where(df[Col.PROMPT_TEMPLATE] == "incorrect", "wrong", "none")
    keys = [df["context_group"].astype(str), pd.Series(wrong, index=df.index, name="belief_kind")]
    keys += [df[c].astype(str) for c in (Col.MODEL, Col.TASK, Col.AMENDMENT_TYPE)]
    grouped = df.groupby([*keys, df[Col.VARIANT].astype(str)])["is_incorrect"]
    rates = grouped.mean().unstack(Col.VARIANT)
    if comparison not in rates.columns or BASE_VARIANT not in rates.columns:
        return None
    rates["n"] = grouped.size().unstack(Col.VARIANT)[[BASE_VARIANT, comparison]].sum(axis=1)
    return rates.dropna()


def error_scatter(frame: pd.DataFrame, comparison: str = "warm") -> Figure | None:
    """Figure 2: original vs fine-tuned error per model x task x context; hollow = wrong user belief.

    Points that coincide (few answers give few possible rates) are labelled with how many lie there.
    """
    rates = scatter_rates(frame, comparison)
    if rates is None:
        return None
    groups = level_order(list(rates.index.get_level_values(0).unique()), "none")
    tasks = sorted(rates.index.get_level_values(Col.TASK).unique())
    colour = {t: f"C{i % 10}" for i, t in enumerate(tasks)}
    label = VARIANT_LABELS.get(comparison, comparison)
    # Two columns: four square panels in a row would be too small to read on a report page.
    title = f"Figure 2. Error rate, original vs {label}, per context"
    fig, axes = _panels(len(groups), title, width=4.6, height=4.4, max_cols=2)
    for ax, group in zip(axes, groups, strict=True):
        sub = rates.xs(group, level=0).reset_index()
        for kind, filled in (("none", True), ("wrong", False)):
            pts = sub[sub["belief_kind"] == kind]
            face = [colour[t] if filled else "none" for t in pts[Col.TASK]]
            ax.scatter(
                100 * pts[BASE_VARIANT],
                100 * pts[comparison],
                s=36,
                facecolors=face,
                edgecolors=[colour[t] for t in pts[Col.TASK]],
                linewidths=1.3,
            )
        _label_coinciding(ax, 100 * sub[BASE_VARIANT], 100 * sub[comparison])
        ax.plot([0, 100], [0, 100], color="#999999", ls="--", lw=1)
        ax.set(xlim=(-2, 102), ylim=(-2, 102), title=f"context: {group} ({int(sub['n'].sum()):,} answers)")
        ax.set_xlabel("Original model error (%)")
        ax.set_ylabel(f"{label.capitalize()} error (%)")
        ax.grid(alpha=0.3)
    axes[0].legend(handles=_scatter_legend(colour), fontsize=8, loc="upper left")
    return fig


def _label_coinciding(ax, x: pd.Series, y: pd.Series) -> None:
    """Write "×k" beside each place where k > 1 points are drawn over each other."""
    counts = pd.DataFrame({"x": x.round(6).to_numpy(), "y": y.round(6).to_numpy()}).value_counts()
    for (px, py), k in counts.items():
        if k > 1:
            ax.annotate(f"×{k}", (px, py), xytext=(5, 4), textcoords="offset points", fontsize=8)


def _scatter_legend(colour: dict[str, str]) -> list[Line2D]:
    handles = [Line2D([], [], marker="o", ls="", color=c, label=t) for t, c in colour.items()]
    handles.append(Line2D([], [], marker="o", ls="", color="#333333", label="no user belief"))
    handles.append(Line2D([], [], marker="o", ls="", mfc="none", color="#333333", label="wrong user belief"))
    return handles


def _condition(frame: pd.DataFrame) -> np.ndarray:
    """Each row's condition: none, +context, +context+belief (wrong beliefs only), or "" (left out)."""
    context = (frame[Col.AMENDMENT_TYPE] != NO_CONTEXT).to_numpy()
    no_belief = frame[Col.PROMPT_TEMPLATE].isin(NO_BELIEF_TEMPLATES).to_numpy()
    wrong = (frame[Col.PROMPT_TEMPLATE] == "incorrect").to_numpy()
    return np.select(
        [~context & no_belief, context & no_belief, context & wrong],
        ["none", "+context", "+context+belief"],
        default="",
    )


def box_diffs(frame: pd.DataFrame, comparison: str) -> pd.DataFrame | None:
    """Figure 3's values: fine-tuned minus original error (pp) per model x task x condition x prompt cell."""
    df = frame[frame[Col.VARIANT].isin([BASE_VARIANT, comparison])]
    df = df.assign(condition=_condition(df))
    df = df[df["condition"] != ""]
    keys = [Col.MODEL, Col.TASK, "condition", Col.AMENDMENT_TYPE, Col.PROMPT_TEMPLATE, Col.VARIANT]
    rates = df.groupby([df[k].astype(str) for k in keys])["is_incorrect"].mean().unstack(Col.VARIANT)
    if df.empty or comparison not in rates.columns or BASE_VARIANT not in rates.columns:
        return None
    return (100 * (rates[comparison] - rates[BASE_VARIANT])).dropna().rename("diff").reset_index()


def error_boxes(frame: pd.DataFrame, comparison: str = "warm") -> Figure | None:
    """Figure 3: per model x task, boxes of the fine-tuned minus original error over prompt cells.

    A box over one cell (or cells of one value) is a line; each box's cell count is written under it.
    """
    diff = box_diffs(frame, comparison)
    if diff is None:
        return None
    models = sorted(diff[Col.MODEL].unique())
    label = VARIANT_LABELS.get(comparison, comparison)
    fig, axes = _panels(len(models), f"Figure 3. Extra errors of the {label} (pp) by condition", width=5.0)
    for ax, model in zip(axes, models, strict=True):
        _draw_boxes(ax, diff[diff[Col.MODEL] == model])
        ax.axhline(0, color="#999999", lw=1)
        ax.set_title(model)
        ax.set_ylabel(f"{label.capitalize()} − original error (pp)")
        ax.grid(axis="y", alpha=0.3)
    handles = [Line2D([], [], color=c, lw=6, label=k) for k, c in CONDITION_COLOURS.items()]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=9, title="condition")
    return fig


def _draw_boxes(ax, diff: pd.DataFrame) -> None:
    tasks = sorted(diff[Col.TASK].unique())
    width = 0.8 / len(CONDITION_COLOURS)
    for j, (cond, colour) in enumerate(CONDITION_COLOURS.items()):
        data, pos = [], []
        for i, task in enumerate(tasks):
            vals = diff.loc[(diff[Col.TASK] == task) & (diff["condition"] == cond), "diff"].to_numpy()
            if vals.size:
                data.append(vals)
                pos.append(i - 0.4 + width * (j + 0.5))
        if data:
            box = ax.boxplot(
                data, positions=pos, widths=width * 0.9, patch_artist=True, medianprops={"color": "black"}
            )
            for patch in box["boxes"]:
                patch.set(facecolor=colour, alpha=0.75)
            # The cells themselves: at small n a box is a line, and the points are what there is to see.
            for x, vals in zip(pos, data, strict=True):
                ax.scatter(
                    np.full(vals.size, x), vals, s=18, color=colour, edgecolors="black", lw=0.5, zorder=3
                )
            for x, vals in zip(pos, data, strict=True):
                ax.annotate(
                    f"{vals.size}",
                    (x, 0),
                    xycoords=("data", "axes fraction"),
                    xytext=(0, 2),
                    textcoords="offset points",
                    ha="center",
                    fontsize=7,
                    color="#555555",
                )
    ax.set_xticks(range(len(tasks)), tasks, rotation=20)
    ax.set_xlabel("Task")


def capability_bars(capability: pd.DataFrame | None) -> Figure | None:
    """Figure 4: capability (MMLU, GSM8K accuracy; AdvBench refusal) per model, original vs fine-tuned."""
    if capability is None or capability.empty:
        return None
    tasks = sorted(capability[Col.TASK].unique())
    fig, axes = _panels(len(tasks), "Figure 4. Capabilities, original vs fine-tuned (95% CI)")
    for ax, task in zip(axes, tasks, strict=True):
        sub = capability[capability[Col.TASK] == task]
        models = sorted(sub[Col.MODEL].unique())
        variants = [v for v in (BASE_VARIANT, *VARIANT_LABELS) if v in set(sub[Col.VARIANT])][:4]
        variants = list(dict.fromkeys(variants + sorted(set(sub[Col.VARIANT]) - set(variants))))
        width = 0.8 / len(variants)
        for j, v in enumerate(variants):
            rows = sub[sub[Col.VARIANT] == v].set_index(Col.MODEL).reindex(models)
            x = np.arange(len(models)) - 0.4 + width * (j + 0.5)
            err = [rows["score_pct"] - rows["ci_low_pct"], rows["ci_high_pct"] - rows["score_pct"]]
            ax.bar(
                x,
                rows["score_pct"],
                width * 0.95,
                yerr=err,
                capsize=3,
                color=VARIANT_COLOURS.get(v, f"C{j}"),
                label=VARIANT_LABELS.get(v, v),
            )
            # The count on each bar: a bar at 0% is otherwise invisible, and n says how much it weighs.
            for xi, pct, n in zip(x, rows["score_pct"], rows["n"], strict=True):
                if pd.notna(pct):
                    text = f"{round(pct * n / 100):.0f}/{n:.0f}"
                    ax.annotate(
                        text,
                        (xi, 0),
                        xytext=(0, 2),
                        textcoords="offset points",
                        ha="center",
                        fontsize=7,
                        rotation=90,
                        va="bottom",
                    )
        ax.set_xticks(range(len(models)), models, rotation=15)
        ax.set(ylim=(0, 105), title=f"{task} ({_span(sub['n'])} per bar)")
        ax.set_ylabel(f"{sub['measure'].iloc[0].capitalize()} (%)")
        ax.grid(axis="y", alpha=0.3)
    # One legend for all panels, outside them: bars reach 100% and would hide any legend inside.
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), fontsize=9)
    return fig


def context_accuracy_change(effects: pd.DataFrame) -> Figure | None:
    """Figure 5: accuracy change (pp, 95% CI) per context for each variant, from GLM 3's marginal effects."""
    sub = effects[(effects["glm"] == 3) & (effects["level"] != "all")] if not effects.empty else effects
    if sub.empty:
        return None
    contexts = level_order(list(sub["level"].unique()), NO_CONTEXT)
    comps = list(dict.fromkeys(sub["comparison"]))
    fig = Figure(figsize=(max(7.0, 1.1 * len(contexts) + 2), 4.6), layout="constrained")
    ax = fig.subplots()
    width = 0.8 / len(comps)
    for j, comp in enumerate(comps):
        rows = sub[sub["comparison"] == comp].set_index("level").reindex(contexts)
        x = np.arange(len(contexts)) - 0.4 + width * (j + 0.5)
        change = -rows["ame_pp"]
        err = [rows["ci_high_pp"] + change, -change - rows["ci_low_pp"]]
        colour = VARIANT_COLOURS.get(comp, f"C{j}")
        ax.errorbar(
            x, change, yerr=err, fmt="o", capsize=3, color=colour, label=VARIANT_LABELS.get(comp, comp)
        )
        # No CI (separation): a hollow point; no estimate (a degenerate fit): said where the point would be.
        bare = rows["ci_low_pp"].isna().to_numpy()
        ax.scatter(x[bare], change[bare], s=60, facecolors="white", edgecolors=colour, zorder=3)
        for xi in x[bare & change.isna().to_numpy()]:
            ax.annotate("not\nestimable", (xi, 0), ha="center", va="center", fontsize=7, color=colour)
    ax.axhline(0, color="#999999", lw=1)
    ax.set_xticks(range(len(contexts)), contexts, rotation=25)
    ax.set_xlabel("Interpersonal context in the user's message")
    ax.set_ylabel("Accuracy change vs original (pp, 95% CI)")
    ax.set_title("Figure 5. Accuracy change by context (GLM 3 marginal effects)", fontweight="bold")
    ax.grid(axis="y", alpha=0.3)
    fig.legend(loc="outside lower center", ncol=len(comps), fontsize=8)
    return fig


def figure_notes(res: StudyResults) -> dict[str, str]:
    """Per drawn figure, a caption sentence: its n, and what it hides or cannot show at this size.

    Small runs give few distinct rates (points drawn over each other), boxes over one cell (lines), bars at
    0% (no bar) and effects without a CI; each figure's caption says which of these it holds.
    """
    notes: dict[str, str] = {}
    comp = res.headline_comparison
    if res.warmth is not None and not res.warmth.empty:
        n, bare = res.warmth["n"], int(res.warmth["ci_low"].isna().sum())
        notes["fig1_warmth_by_epoch"] = f"{_span(n)} scored responses per point" + (
            f"; {bare} point(s) from a single response have no CI band." if bare else "."
        )
    rates = scatter_rates(res.prepared.frame, comp) if comp else None
    if rates is not None:
        stacked = rates.assign(x=rates[BASE_VARIANT].round(6), y=rates[comp].round(6))
        keys = [stacked.index.get_level_values(0), stacked["x"], stacked["y"]]
        over = int((stacked.groupby(keys)["n"].transform("size") > 1).sum())
        notes["fig2_error_scatter"] = f"{_span(rates['n'])} answers per point (both arms)" + (
            f"; {over} of {len(rates)} points lie on another point (×k beside a point counts them)."
            if over
            else "."
        )
    diffs = box_diffs(res.prepared.frame, comp) if comp else None
    if diffs is not None:
        per_box = diffs.groupby([Col.MODEL, Col.TASK, "condition"])["diff"]
        lines = int(((per_box.size() == 1) | (per_box.nunique() == 1)).sum())
        notes["fig3_error_boxes"] = f"{_span(per_box.size())} prompt cell(s) per box (written under each)" + (
            f"; {lines} box(es) over one cell or equal values collapse to a line." if lines else "."
        )
    if res.capability is not None and not res.capability.empty:
        zero = int((res.capability["score_pct"] == 0).sum())
        notes["fig4_capability"] = f"{_span(res.capability['n'])} items per bar; each bar reads score/n" + (
            f"; {zero} bar(s) at 0% have no height." if zero else "."
        )
    g3 = res.effects[res.effects["glm"] == 3] if not res.effects.empty else res.effects
    g3 = g3[g3["level"] != "all"] if not g3.empty else g3
    if not g3.empty:
        bare = int(g3["ci_low_pp"].isna().sum())
        wide = int(((g3["ci_high_pp"] - g3["ci_low_pp"]) / 2 > WIDE_CI_PP).sum())
        notes["fig5_context_change"] = f"{_span(g3['n'])} answers per point" + (
            f"; {bare} point(s) have no CI (hollow: separation; 'not estimable': a degenerate fit)"
            if bare
            else ""
        )
        if wide:
            notes["fig5_context_change"] += (
                f"; {wide} interval(s) wider than ±{WIDE_CI_PP:.0f} pp: too few answers to read a change"
            )
        notes["fig5_context_change"] += "."
    return notes


def _span(counts: pd.Series) -> str:
    """`n = 8` or `n = 8 to 16`, from a column of counts."""
    lo, hi = int(counts.min()), int(counts.max())
    return f"n = {lo:,}" if lo == hi else f"n = {lo:,} to {hi:,}"


def draw_figures(res: StudyResults, folder: Path) -> dict[str, Path | None]:
    """Draw figures 1-5 as PNG into `folder`; None for a figure whose input is absent."""
    comp = res.headline_comparison
    frame = res.prepared.frame
    makers: dict[str, Callable[[], Figure | None]] = {
        "fig1_warmth_by_epoch": lambda: warmth_by_epoch(res.warmth),
        "fig2_error_scatter": lambda: error_scatter(frame, comp) if comp else None,
        "fig3_error_boxes": lambda: error_boxes(frame, comp) if comp else None,
        "fig4_capability": lambda: capability_bars(res.capability),
        "fig5_context_change": lambda: context_accuracy_change(res.effects),
    }
    drawn: dict[str, Path | None] = {}
    for name, make in makers.items():
        figure = make()
        drawn[name] = save(figure, folder / f"{name}.png") if figure is not None else None
    return drawn
