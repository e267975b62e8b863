"""The `warmth` stage: how warm each checkpoint sounds, by SocioT (the study's Figure 1)."""

from warmray.stages.warmth.curve import run

__all__ = ["run"]
