"""What a person sees on the terminal: one line per stage with progress, and the engines' logs in files.

While a stage runs, the process's own stdout and stderr (file descriptors 1 and 2, so Ray's and vLLM's
output and the worker processes they start) go to `RUN_DIR/logs/<stage>.log`; this module keeps a copy of
the terminal to print the stage lines, progress and the summary. `--verbose` leaves everything on the
terminal instead.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from warmray import progress

_QUIET_LOG_S = 30  # progress lines when the output is not a terminal (CI logs): at most this often


class Console:
    """The terminal, kept aside while file descriptors 1 and 2 point at a stage's log."""

    def __init__(self, verbose: bool = False) -> None:
        """Keep a copy of the terminal (stdout) to write to whatever fds 1 and 2 point at later."""
        try:
            self._out: IO[str] = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
            self._err: IO[str] = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
        except (OSError, ValueError):  # no real files (an embedding program, a test's capture)
            self._out, self._err, verbose = sys.stdout, sys.stderr, True
        self.verbose = verbose
        self._tty = self._out.isatty()
        self._open_line = False
        self._last_line = 0.0
        self._last_shown: tuple[str, int] | None = None  # (label, rows) of the last line off a terminal
        self.warnings = 0
        self.log_file: Path | None = None

    def say(self, text: str) -> None:
        """A line on the terminal."""
        self._end_progress()
        print(text, file=self._out, flush=True)

    def error(self, text: str) -> None:
        """A problem, on the terminal's stderr."""
        self._end_progress()
        print(text, file=self._err, flush=True)

    def show(self, update: progress.Update) -> None:
        """A progress reading: redrawn in place on a terminal, a line now and then otherwise."""
        line = f"  {update.line()}"
        if self._tty:
            print(f"\r{line:<100}", end="", file=self._out, flush=True)
            self._open_line = True
        elif quiet_line_due(update, self._last_shown, time.monotonic() - self._last_line):
            print(line, file=self._out, flush=True)
            self._last_line = time.monotonic()
            self._last_shown = (update.label, update.done)

    def _end_progress(self) -> None:
        if self._open_line:
            print(file=self._out, flush=True)
            self._open_line = False

    @contextmanager
    def capture(self, log_file: Path, *, holds_errors: bool = True) -> Iterator[None]:
        """Send fds 1 and 2 (this process and the processes it starts) to `log_file` inside the block.

        `log_file` becomes the log an error message names, unless `holds_errors` is False (the shutdown's
        farewells: an error raised in a stage must still point at that stage's log).
        """
        if holds_errors:
            self.log_file = log_file
        if self.verbose:
            yield
            return
        log_file.parent.mkdir(parents=True, exist_ok=True)
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        with log_file.open("a") as f:
            os.dup2(f.fileno(), 1)
            os.dup2(f.fileno(), 2)
            try:
                yield
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                os.close(saved[0])
                os.close(saved[1])


def quiet_line_due(update: progress.Update, last: tuple[str, int] | None, since_s: float) -> bool:
    """Whether a log that is not a terminal gets this reading as a line (pure).

    One line per interval, and only when the count moved since the last line: a CI log of a long stage
    reads as its progress, not as the same line again and again. A step's first and last readings
    always show (its start, and its end).
    """
    if last is not None and last == (update.label, update.done):
        return False
    if last is None or last[0] != update.label or update.done == update.total:
        return True
    return since_s >= _QUIET_LOG_S


class CountWarnings(logging.Handler):
    """Counts warmray's warnings and errors, so the summary can point at the logs when there were any.

    Only warmray's own loggers: a library's notices that reach the root logger (vLLM's "Triton is
    installed, but doesn't include CPU backend" on every CPU run) are not the run's problems, and a
    summary that points at them teaches a person to ignore the line.
    """

    def __init__(self, console: Console) -> None:
        """Count into `console.warnings`."""
        super().__init__(level=logging.WARNING)
        self.console = console

    def emit(self, record: logging.LogRecord) -> None:
        """Count one record of warmray's."""
        if record.name == "warmray" or record.name.startswith("warmray."):
            self.console.warnings += 1


def stop_ray(console: Console, log_file: Path) -> None:
    """Shut the engines and this command's local Ray down, their farewells into `log_file`.

    vLLM engines that end with Ray print shutdown tracebacks (EngineDeadError, resource-tracker
    KeyErrors) that read like a crash on the terminal.
    """
    if "ray" not in sys.modules:
        return
    import ray

    if ray.is_initialized():
        with console.capture(log_file, holds_errors=False):
            ray.shutdown()


def of_command(args: argparse.Namespace) -> Console:
    """The console a command's lines go to: the CLI's (args.console), else one of its own."""
    return getattr(args, "console", None) or Console(getattr(args, "verbose", False))


def add_from_argument(parser: argparse.ArgumentParser, help_text: str) -> None:
    """The `--from PATH...` of the commands that read results made elsewhere (warmray.results_reader)."""
    parser.add_argument("--from", dest="sources", nargs="+", type=Path, metavar="PATH", help=help_text)


def add_retry_failed_argument(parser: argparse.ArgumentParser) -> None:
    """The `--retry-failed` flag of every command that runs stages (warmray.stage's `retry` action)."""
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="ask again the endpoint requests that failed after their tries in finished stages (generate, "
        "judge, warmth, capability), keeping every answer that succeeded; the stages after them are redone",
    )


def add_verbose_argument(parser: argparse.ArgumentParser) -> None:
    """The `--verbose` flag of every command that starts engines."""
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="Ray's and vLLM's logs on the terminal too"
    )
