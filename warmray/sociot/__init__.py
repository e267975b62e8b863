"""SocioT warmth (Cheng, Yu & Jurafsky, ACL 2025): pure scoring functions and Ray Data scorer actors.

Importing no stage: the warmth stage and `sweep` score through `score_dataset`; `warmray sociot`
scores a file in-process. `score_dataset` and `SCORE_COLUMNS` load Ray, so they are imported on first
use: `warmray sociot` starts without Ray.
"""

from typing import Any

from warmray.sociot.measure import MAX_CHARS, PROCEDURES, SocioT, load_scorer, sociot

__all__ = ["MAX_CHARS", "PROCEDURES", "SCORE_COLUMNS", "SocioT", "load_scorer", "score_dataset", "sociot"]


def __getattr__(name: str) -> Any:
    if name in ("SCORE_COLUMNS", "score_dataset"):
        from warmray.sociot import scoring

        return getattr(scoring, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
