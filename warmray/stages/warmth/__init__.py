"""The `warmth` stage (warmray.stages.warmth.curve) and SocioT (sociot.py, scoring.py, command.py)."""

from __future__ import annotations

from pathlib import Path

from warmray.stage import StageContext


def run(ctx: StageContext, out: Path) -> dict[str, int]:
    """The warmth stage: see warmray.stages.warmth.curve."""
    # Imported on call: `warmray sociot` (command.py) lives in this package and must start without
    # loading Ray, vLLM's inference path and the analysis.
    from warmray.stages.warmth.curve import run as run_curve

    return run_curve(ctx, out)
