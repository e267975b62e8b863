"""The warmth-reliability frontier of a sweep: the trials table, the Pareto set, the plot, the report.

A trial is Pareto-optimal when no other trial is at least as warm with at most its error rate (and
strictly better on one). The best trade-off named in the report is the warmest Pareto trial whose error
rate stays within the original model's 95% interval; when none does, the Pareto trial with the lowest
error rate.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

ORIGINAL = "original"


def pareto(trials: pd.DataFrame) -> pd.Series:
    """True for the trials no other trial dominates (warmer or equal, and no more errors)."""
    flags = []
    for _, t in trials.iterrows():
        others = trials.drop(index=t.name)
        dominated = (
            (others["warmth"] >= t["warmth"])
            & (others["error_rate"] <= t["error_rate"])
            & ((others["warmth"] > t["warmth"]) | (others["error_rate"] < t["error_rate"]))
        )
        flags.append(not dominated.any())
    return pd.Series(flags, index=trials.index, dtype=bool)


def best_tradeoff(trials: pd.DataFrame, original: dict[str, float]) -> pd.Series:
    """The report's pick: the warmest Pareto trial within the original's error interval, else the safest."""
    front = trials[trials["pareto"]]
    safe = front[front["error_rate"] <= original["error_high"]]
    if len(safe):
        return safe.sort_values("warmth", ascending=False).iloc[0]
    return front.sort_values("error_rate").iloc[0]


def plot(trials: pd.DataFrame, original: dict[str, float], path: Path) -> None:
    """Warmth against error rate, 95% intervals, the Pareto trials marked and named, the original a star."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    for front, style in ((False, {"color": "0.6"}), (True, {"color": "tab:red"})):
        part = trials[trials["pareto"] == front]
        ax.errorbar(
            part["warmth"],
            100 * part["error_rate"],
            xerr=[part["warmth"] - part["warmth_low"], part["warmth_high"] - part["warmth"]],
            yerr=[
                100 * (part["error_rate"] - part["error_low"]),
                100 * (part["error_high"] - part["error_rate"]),
            ],
            fmt="o",
            capsize=3,
            label="Pareto-optimal trial" if front else "other trial",
            **style,
        )
    for _, t in trials[trials["pareto"]].iterrows():
        ax.annotate(
            t["trial"],
            (t["warmth"], 100 * t["error_rate"]),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.plot(original["warmth"], 100 * original["error_rate"], "k*", markersize=14, label="original model")
    ax.set_xlabel("warmth (SocioT, mean over held-out prompts)")
    ax.set_ylabel("error rate on the evaluation slice (%)")
    ax.set_title("Warmth-reliability frontier")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _row(t: pd.Series) -> str:
    return (
        f"| {t['trial']} | {t['warmth']:.3f} [{t['warmth_low']:.3f}, {t['warmth_high']:.3f}] "
        f"| {100 * t['error_rate']:.1f} [{100 * t['error_low']:.1f}, {100 * t['error_high']:.1f}] "
        f"| {100 * t['sycophancy_rate']:.1f} | {'yes' if t.get('pareto') else ''} |"
    )


def report(trials: pd.DataFrame, original: dict[str, float], seconds: float) -> str:
    """A short markdown report: the best trade-off found, and every trial."""
    best = best_tradeoff(trials, original)
    lines = [
        "# Warmth sweep",
        "",
        f"{len(trials)} trials in {seconds / 60:.1f} minutes. Best trade-off found: **{best['trial']}** "
        f"(warmth {best['warmth']:.3f} against {original['warmth']:.3f} for the original model; error rate "
        f"{100 * best['error_rate']:.1f}% against {100 * original['error_rate']:.1f}%; sycophancy "
        f"{100 * best['sycophancy_rate']:.1f}% against {100 * original['sycophancy_rate']:.1f}%).",
        "",
        "Intervals are 95% (Wilson for rates, normal for mean warmth). Sycophancy: error rate when the user "
        "states a wrong belief. With a tiny or random model these numbers exercise the machinery only.",
        "",
        "| trial | warmth | error rate % | sycophancy % | Pareto |",
        "|---|---|---|---|---|",
        _row(pd.Series({"trial": ORIGINAL, **original})),
        *(_row(t) for _, t in trials.sort_values("warmth", ascending=False).iterrows()),
        "",
    ]
    return "\n".join(lines)


def write_outputs(trials: pd.DataFrame, original: dict[str, float], folder: Path, seconds: float) -> None:
    """trials.parquet, frontier.png and report.md in the sweep folder."""
    # One row per trial in name order: Tune returns results in completion order, which a restore changes.
    trials = trials.sort_values("trial").reset_index(drop=True)
    trials = trials.assign(pareto=pareto(trials))
    trials.to_parquet(folder / "trials.parquet", index=False)
    plot(trials, original, folder / "frontier.png")
    (folder / "report.md").write_text(report(trials, original, seconds))
