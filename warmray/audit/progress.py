"""Progress and ETA on the terminal, stage by stage.

Before a stage starts: what it will do and the estimated time left. The estimates come from the item
budget's throughput assumptions and are rescaled by how the finished stages actually went, so the ETA
tightens as the audit runs. Inside generate (and an LLM judge) the command's progress line counts the
requests the engine has finished, with its own rate and ETA (warmray.progress.watch_engine).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from warmray.audit.experiment import CPU, GPU, Throughput, response_seconds
from warmray.config import ExperimentConfig
from warmray.grading import grader_for
from warmray.progress import format_seconds

_JUDGE_RESPONSE_S = 0.25  # an LLM judge's short verdict per response, amortised (same engine class)
_FIXED_S = {"grid": 10.0, "analyze": 40.0}
_SCALE_FROM_S = 60.0  # stages estimated shorter than this do not rescale the ETA


def estimate_seconds(config: ExperimentConfig, n_prompts: int) -> dict[str, float]:
    """Rough seconds per stage for `n_prompts` grid rows answered by every arm of every model."""
    speed: Throughput = GPU if config.generate.engine.device == "gpu" else CPU
    local = sum(1 for m in config.models if not m.endpoint)
    responses = n_prompts * len(config.models) * len(config.generate.variants)
    generate = speed.startup_s - sum(_FIXED_S.values()) + speed.per_engine_s * max(0, local - 1)
    generate += responses * response_seconds(speed, config.generate.sampling.max_tokens)
    judge = 10.0
    if grader_for(config.judge.grader).needs_engine:
        judge += (
            speed.per_engine_s if not config.judge.engine.endpoint else 0.0
        ) + responses * _JUDGE_RESPONSE_S
    return {"grid": _FIXED_S["grid"], "generate": generate, "judge": judge, "analyze": _FIXED_S["analyze"]}


@dataclass
class Progress:
    """Prints one line as each stage starts and ends, with the time left."""

    estimates: dict[str, float]
    # The command's console (warmray.console.Console.say): the terminal, while Ray's and vLLM's output
    # goes to the stage's log.
    say: Callable[[str], None] = print
    started: float = field(default_factory=time.time)
    _observed: float = 0.0
    _expected: float = 0.0
    _stage_start: float = 0.0

    def _scale(self) -> float:
        """Observed over estimated time of the long stages run so far (1 before any), within 0.3-5x.

        Short stages are left out: Ray's start-up alone can make a 10-second grid take a minute, which
        says nothing about how fast the engine will answer.
        """
        if self._expected <= 0:
            return 1.0
        return min(5.0, max(0.3, self._observed / self._expected))

    def left(self, stage: str) -> float:
        """Estimated seconds left from the start of `stage` to the end of the audit."""
        names = list(self.estimates)
        return self._scale() * sum(self.estimates[n] for n in names[names.index(stage) :])

    def start(self, stage: str, what: str) -> None:
        """Announce a stage."""
        names = list(self.estimates)
        self._stage_start = time.time()
        step = f"[audit {names.index(stage) + 1}/{len(names)}] {stage}"
        left = self.left(stage)
        eta = time.strftime("%H:%M", time.localtime(time.time() + left))
        self.say(f"{step}: {what}; about {format_seconds(left)} left (ETA {eta})")

    def finish(self, stage: str, skipped: bool) -> None:
        """Close a stage; a long one that ran now sets the pace for the estimates that follow."""
        took = time.time() - self._stage_start
        if not skipped and self.estimates[stage] >= _SCALE_FROM_S:
            self._observed += took
            self._expected += self.estimates[stage]
        said = "already finished" if skipped else f"done in {format_seconds(took)}"
        self.say(f"[audit] {stage}: {said} (elapsed {format_seconds(time.time() - self.started)})")
