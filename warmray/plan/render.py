"""A plan as a human table, or as JSON for scripts."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from warmray.plan.build import Plan, Work

_COLUMNS = (
    "stage",
    "what",
    "runs on",
    "x",
    "GPUs",
    "placement",
    "rows",
    "in tok",
    "out tok",
    "GiB/GPU",
    "traced",
    "GPU-h",
    "hours",
)


def _si(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


def _hours(h: float | None) -> str:
    return "-" if h is None else f"{h:.1f}" if h >= 0.1 else f"{h:.2f}"


def _row(w: Work) -> tuple[str, ...]:
    return (
        w.stage,
        w.name,
        w.runs_on,
        str(w.replicas),
        str(w.gpus_each or "-"),
        w.placement or "-",
        _si(w.rows),
        _si(w.input_tokens) if w.input_tokens else "-",
        _si(w.output_tokens) if w.output_tokens else "-",
        f"{w.memory_gib:.1f}" if w.memory_gib is not None else "-",
        f"{w.traced_gib:.1f}" if w.traced_gib is not None else "-",
        f"{w.gpu_hours:.1f}" if w.gpu_hours else "-",
        _hours(w.hours),
    )


def table(plan: Plan) -> str:
    """The plan as a fixed-width table, with the assumptions and their sources below it."""
    rows = [_COLUMNS, *(_row(w) for w in plan.work)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    c, counts = plan.cluster, plan.counts
    head = [
        f"warmray plan: {plan.config} on {c.nodes} node(s) x {c.gpus_per_node} x {c.gpu.name} "
        f"({c.gpu.memory_gib:g} GiB each; from {c.source})",
        f"conversations {counts.conversations} (train {counts.train_conversations}), assistant turns "
        f"~{counts.assistant_turns}, grid prompts {counts.prompts} ({counts.variants_per_item} per item), "
        f"responses {counts.responses_per_model} per model, SocioT responses "
        f"{counts.sociot_responses_per_model} per model",
        f"training tokens from: {plan.token_source}",
        "",
    ]
    foot = _traces(plan)
    foot += ["", "warnings:", *(f"  - {w}" for w in plan.warnings)] if plan.warnings else []
    foot += [
        "",
        f"total: {plan.gpu_hours:,.0f} GPU-hours (an ESTIMATE from the assumptions below, not a measurement; "
        "'x' = engine replicas or training workers, 'hours' = wall-clock at that parallelism, "
        "HTTP rows = hosted calls, no GPU here)",
        "",
        "assumptions (override in the config under plan.assumptions):",
    ]
    foot += [f"  {a.name} = {a.value:g} {a.unit}: {a.source}" for a in plan.assumptions]
    foot.append(
        f"  GPU {c.gpu.name}: {c.gpu.bf16_tflops:g} TFLOPS bf16 dense, {c.gpu.bandwidth_gbs:g} GB/s "
        f"({c.gpu.source})"
    )
    return "\n".join(head + lines + foot)


def _traces(plan: Plan) -> list[str]:
    """The traced peak per training rank of each model beside the formula, and how it was traced."""
    if not plan.traces:
        return []
    lines = [
        "",
        "memory per training rank, traced ('traced' column: one LoRA step of the configured micro-batch "
        "and length, torch on fake tensors and a fake process group; 'GiB/GPU' is the formula):",
    ]
    for t in plan.traces:
        parts = ", ".join(f"{k} {v:.1f}" for k, v in sorted(t.traced.parts.items(), key=lambda kv: -kv[1]))
        lines.append(
            f"  {t.model}: {t.strategy} x {t.world} ranks: traced peak {t.traced.peak_gib:.1f} GiB per rank "
            f"(formula {t.formula_gib:.1f}); {t.traced.note}; parts at the peak: {parts}"
        )
    return lines


def as_json(plan: Plan) -> dict[str, Any]:
    """The plan as plain JSON-serialisable data."""
    return {
        "config": plan.config,
        "estimate": True,
        "cluster": {
            "gpu": asdict(plan.cluster.gpu),
            "gpus_per_node": plan.cluster.gpus_per_node,
            "nodes": plan.cluster.nodes,
            "source": plan.cluster.source,
        },
        "token_source": plan.token_source,
        "counts": asdict(plan.counts),
        "work": [asdict(w) for w in plan.work],
        "gpu_hours": plan.gpu_hours,
        "gpu_hours_by_stage": _by_stage(plan),
        "assumptions": [asdict(a) for a in plan.assumptions],
        "warnings": list(plan.warnings),
        "traces": [asdict(t) for t in plan.traces],
    }


def _by_stage(plan: Plan) -> dict[str, float]:
    out: dict[str, float] = {}
    for w in plan.work:
        out[w.stage] = out.get(w.stage, 0.0) + w.gpu_hours
    return out
