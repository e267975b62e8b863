"""Progress of long stages: rows done, rate and ETA, reported to whoever listens.

Library code calls `watch(label, total, count)` around a long step; a background thread polls `count()`
and hands (label, done, total, rate, eta) to the sink. The command line installs a sink that draws one
line per stage on the terminal; without one, progress goes to the log at INFO.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Update:
    """One progress reading."""

    label: str
    done: int
    total: int
    rate: float  # rows per second since the step started
    eta_s: float | None  # None until the rate is known

    def line(self) -> str:
        """The reading as one short line."""
        eta = "" if self.eta_s is None else f"  ETA {format_seconds(self.eta_s)}"
        return f"{self.label}  {self.done}/{self.total} rows  {self.rate:.1f} rows/s{eta}"


Sink = Callable[[Update], None]
_sink: Sink | None = None


def set_sink(sink: Sink | None) -> None:
    """Where progress goes (None: the log)."""
    global _sink
    _sink = sink


def format_seconds(seconds: float) -> str:
    """1m05s, 2h03m, 12s."""
    seconds = int(max(0, seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def estimate(label: str, done: int, total: int, started_done: int, elapsed: float) -> Update:
    """Rate and ETA from the rows made since the step started (rows done before a resume excluded)."""
    made = max(0, done - started_done)
    rate = made / elapsed if elapsed > 0 else 0.0
    eta = (total - done) / rate if rate > 0 else None
    return Update(label, done, total, rate, eta)


def report(update: Update) -> None:
    """Hand one reading to the sink."""
    if _sink is None:
        log.info("%s", update.line())
    else:
        _sink(update)


@contextmanager
def watch(label: str, total: int, count: Callable[[], int], every_s: float = 2.0) -> Iterator[None]:
    """Report `count()` out of `total` every few seconds while the block runs, and once at the end."""
    started, first = time.monotonic(), count()
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(every_s):
            report(estimate(label, count(), total, first, time.monotonic() - started))

    thread = threading.Thread(target=poll, name=f"progress-{label}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        report(estimate(label, count(), total, first, time.monotonic() - started))
