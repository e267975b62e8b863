"""Progress of long stages: rows done, rate and ETA, reported to whoever listens.

Library code calls `watch(label, total, count)` around a long step; a background thread polls `count()`
and hands (label, done, total, rate, eta) to the sink. The command line installs a sink that draws one
line per stage on the terminal; without one, progress goes to the log at INFO.

An engine stage's rows reach its output folder only when the engine has finished a whole block, so a
count of written rows stands still for minutes and then jumps. `watch_engine` counts what the engine
itself finishes instead: the stage's engine actors report each finished request and its generated tokens
(`request_finished`, called by warmray.infer.engine_hooks) to a small counter actor, and the line moves
request by request, with a rate and an ETA as soon as the first requests are done.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

ENGINE_ENV = "WARMRAY_PROGRESS"  # an engine actor's variable: the counter key it reports finished requests to
_TALLY = "warmray-progress"  # the counter actor's name, in the job's namespace
_FLUSH_S = 0.5  # an engine actor sends its counts at most this often


@dataclass(frozen=True)
class Update:
    """One progress reading."""

    label: str
    done: int
    total: int
    rate: float  # rows per second, measured since the first rows were done (see `Meter`)
    eta_s: float | None  # None until the rate is known
    tokens_per_s: float = 0.0  # generated tokens per second, where the engine reports them

    def line(self) -> str:
        """The reading as one short line."""
        eta = "" if self.eta_s is None else f"  ETA {format_seconds(self.eta_s)}"
        tokens = f"  {self.tokens_per_s:.0f} tok/s" if self.tokens_per_s > 0 else ""
        return f"{self.label}  {self.done}/{self.total} rows  {self.rate:.1f} rows/s{tokens}{eta}"


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


class Meter:
    """Rate and ETA of a step whose work starts late (an engine loads for a minute before its first answer).

    Until the first rows are done the rate is the plain average since the start. From then on it is
    measured from the last reading before that first change, so the engine's start-up does not drag the
    rate down (and push the ETA out) for the rest of the stage.
    """

    def __init__(self, label: str, total: int, started_done: int, now: float) -> None:
        """A step of `total` rows of which `started_done` were done (a resume) at time `now`."""
        self.label, self.total, self.started_done = label, total, started_done
        self._start = self._last_quiet = now
        self._working_since: tuple[float, int] | None = None
        self._tokens_since: tuple[float, int] | None = None

    def read(self, done: int, now: float, tokens: int = 0) -> Update:
        """The update for `done` rows (and `tokens` generated tokens so far) at time `now`."""
        if self._working_since is None:
            if done <= self.started_done:
                self._last_quiet = now
                return estimate(self.label, done, self.total, self.started_done, now - self._start)
            self._working_since = (self._last_quiet, self.started_done)
            self._tokens_since = (self._last_quiet, 0)
        since, base = self._working_since
        update = estimate(self.label, done, self.total, base, now - since)
        tok_since, tok_base = self._tokens_since or (since, 0)
        tok_rate = (tokens - tok_base) / (now - tok_since) if tokens and now > tok_since else 0.0
        return Update(update.label, done, self.total, update.rate, update.eta_s, tok_rate)


def report(update: Update) -> None:
    """Hand one reading to the sink."""
    if _sink is None:
        log.info("%s", update.line())
    else:
        _sink(update)


@contextmanager
def watch(
    label: str,
    total: int,
    count: Callable[[], int],
    every_s: float = 2.0,
    tokens: Callable[[], int] | None = None,
) -> Iterator[None]:
    """Report `count()` out of `total` every few seconds while the block runs, and once at the end.

    `tokens()`, when given, is the number of tokens generated so far (shown as a rate).
    """
    meter = Meter(label, total, count(), time.monotonic())
    stop = threading.Event()

    def reading() -> Update:
        return meter.read(count(), time.monotonic(), tokens() if tokens else 0)

    def poll() -> None:
        while not stop.wait(every_s):
            report(reading())

    thread = threading.Thread(target=poll, name=f"progress-{label}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        report(reading())


# --- engine-side counts ---------------------------------------------------------------------------------


class _Tally:
    """The counter actor: finished requests and generated tokens per key (one key per engine step)."""

    def __init__(self) -> None:
        self.counts: dict[str, list[int]] = {}

    def add(self, key: str, requests: int, tokens: int) -> None:
        counts = self.counts.setdefault(key, [0, 0])
        counts[0] += requests
        counts[1] += tokens

    def read(self, key: str) -> tuple[int, int]:
        requests, tokens = self.counts.get(key, (0, 0))
        return requests, tokens


_active_key: contextvars.ContextVar[str | None] = contextvars.ContextVar("warmray_progress_key", default=None)


def engine_env() -> dict[str, str]:
    """The variable an engine actor needs to report its finished requests to the step being watched.

    Empty outside `watch_engine` (or when its counter could not be started): the engine reports nothing.
    """
    key = _active_key.get()
    return {ENGINE_ENV: key} if key else {}


@contextmanager
def watch_engine(label: str, total: int, written: Callable[[], int], every_s: float = 2.0) -> Iterator[None]:
    """`watch` for an engine step: rows counted as the engine finishes them, not as blocks are written.

    The count is the larger of the rows written (`written()`, which includes the rows of an earlier,
    interrupted attempt) and those rows plus the requests the engine has finished since this step began;
    the engines learn where to report through `engine_env`, read as their processor is built inside the
    block. Without Ray's counter actor (it failed to start) this is `watch` over the written rows.
    """
    import ray

    key = f"{label}:{uuid.uuid4().hex[:8]}"
    try:
        tally = ray.remote(num_cpus=0)(_Tally).options(name=_TALLY, get_if_exists=True).remote()
    except Exception as e:  # progress must never stop a stage
        log.warning("progress: no engine counter (%s); counting written rows only", e)
        with watch(label, total, written, every_s):
            yield
        return

    def counts() -> tuple[int, int]:
        try:
            return tuple(ray.get(tally.read.remote(key), timeout=10))  # type: ignore[return-value]
        except Exception:  # a busy or restarting cluster: the written rows still count
            return 0, 0

    before = written()
    token = _active_key.set(key)
    try:
        done = lambda: min(total, max(written(), before + counts()[0]))  # noqa: E731
        with watch(label, total, done, every_s, lambda: counts()[1]):
            yield
    finally:
        _active_key.reset(token)


class _Reporter:
    """In an engine actor: finished requests, sent to the counter actor at most every `_FLUSH_S`."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.requests = self.tokens = 0
        self.scheduled = False
        self.tally: Any = None

    def finished(self, tokens: int) -> None:
        import asyncio

        self.requests += 1
        self.tokens += tokens
        if not self.scheduled:
            self.scheduled = True
            asyncio.get_running_loop().call_later(_FLUSH_S, self.flush)

    def flush(self) -> None:
        import ray

        self.scheduled = False
        try:
            if self.tally is None:
                self.tally = ray.get_actor(_TALLY)
            self.tally.add.remote(self.key, self.requests, self.tokens)
        except Exception as e:  # the counts wait for the next flush
            log.debug("progress: counts not sent (%s)", e)
            return
        self.requests = self.tokens = 0


_reporter: _Reporter | None = None


def request_finished(output: Any) -> None:
    """Count one finished engine request (a vLLM RequestOutput); called in an engine actor's event loop.

    Does nothing unless the actor was started with `engine_env`'s variable. Never raises: a lost count
    only makes the line move later.
    """
    global _reporter
    key = os.environ.get(ENGINE_ENV)
    if not key:
        return
    try:
        if _reporter is None or _reporter.key != key:
            _reporter = _Reporter(key)
        _reporter.finished(sum(len(o.token_ids) for o in getattr(output, "outputs", None) or ()))
    except Exception as e:
        log.debug("progress: a finished request was not counted (%s)", e)
