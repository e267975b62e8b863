"""Every process a command starts ends with it, or with the next command after a SIGKILL.

A command's engines outlived it: Ray's workers and raylet end with `ray.shutdown`, but a process one of
them started (vLLM's engine core, a multiprocessing resource tracker) is reparented to init and runs on.
So each command gets a token, put in the environment variable WARMRAY_COMMAND before anything starts:
every process started under it inherits the variable (Ray's raylet from the driver, its workers from
the raylet, an engine's processes from its worker), whatever it renames itself to. The token is
recorded, with the command's pid and start time, in a file under the user's temporary folder
(`registry`). When the command ends, however it ends short of SIGKILL, `tracked` ends every process
that carries its token; a SIGKILL skips that, so each command first looks for records whose command is
gone (pid and start time no longer match a live process) and ends those commands' processes. Processes
are found by this recorded token only, never by name: another user's, another command's or a server the
user started are never touched. Linux only (it reads /proc); elsewhere nothing is found or ended.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

VARIABLE = "WARMRAY_COMMAND"  # the tokens of the command and of the warmray commands above it
_KEEP_ENDED_S = 7 * 24 * 3600  # an ended command's record is kept a week, for the tests and the curious


def registry() -> Path:
    """The folder of the command records: this user's, under the temporary folder (TMPDIR honoured)."""
    return Path(tempfile.gettempdir()) / f"warmray-{os.getuid()}" / "commands"


def start_time(pid: int) -> int | None:
    """A process's start time in clock ticks since boot (/proc/<pid>/stat field 22); None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] == "Z":  # a zombie has ended; only its parent has not noticed yet
        return None
    return int(fields[19])


def carries(environ: bytes, token: str) -> bool:
    """Whether a process environment (/proc/<pid>/environ's bytes) holds the token in VARIABLE (pure)."""
    prefix = f"{VARIABLE}=".encode()
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            return token in entry[len(prefix) :].decode(errors="replace").split()
    return False


def carrying(token: str) -> list[int]:
    """The live processes, other than this one, whose environment carries the token."""
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or another user's
            continue
        if carries(environ, token) and start_time(int(entry.name)) is not None:
            found.append(int(entry.name))
    return found


def end(token: str, grace_s: float = 10.0) -> list[int]:
    """End every process that carries the token: SIGTERM, then SIGKILL after `grace_s`; their pids."""
    pids = carrying(token)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.time() + (grace_s if sig == signal.SIGTERM else 5.0)
        while time.time() < deadline and any(start_time(p) is not None for p in pids):
            time.sleep(0.2)
        if not any(start_time(p) is not None for p in pids):
            break
    return pids


def records() -> list[dict[str, Any]]:
    """The command records in the registry (an unreadable one is skipped)."""
    found = []
    for path in sorted(registry().glob("*.json")) if registry().is_dir() else ():
        with contextlib.suppress(OSError, ValueError):
            found.append(json.loads(path.read_text()))
    return found


def _write(record: dict[str, Any]) -> None:
    folder = registry()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{record['token']}.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)


def owner_alive(record: dict[str, Any]) -> bool:
    """Whether the command of a record still runs (the same pid with the same start time)."""
    return start_time(int(record["pid"])) == record["start"]


def reap() -> int:
    """End the processes of every recorded command that is gone without ending them; how many."""
    ended = 0
    for record in records():
        if record.get("ended"):
            if time.time() - record.get("ended_at", 0) > _KEEP_ENDED_S:
                (registry() / f"{record['token']}.json").unlink(missing_ok=True)
            continue
        if owner_alive(record):
            continue
        left = end(record["token"])
        if left:
            log.warning(
                "ended %d process(es) that the warmray command %d (%s) left running when it was killed",
                len(left),
                record["pid"],
                " ".join(record.get("argv", [])),
            )
        ended += len(left)
        _write(record | {"ended": True, "ended_at": time.time(), "left": left})
    return ended


@contextlib.contextmanager
def tracked(argv: list[str]) -> Iterator[str]:
    """Run a command under a new token (recorded) and end its processes when it ends; yields the token."""
    token = uuid.uuid4().hex
    record = {"token": token, "pid": os.getpid(), "start": start_time(os.getpid()), "argv": argv}
    record |= {"cwd": os.getcwd(), "started_at": time.time(), "ended": False}
    _write(record)
    previous = os.environ.get(VARIABLE)
    os.environ[VARIABLE] = f"{previous} {token}" if previous else token
    try:
        yield token
    finally:
        left = end(token)
        if left:  # expected (an engine's own processes, Ray's after a failed start): the log only
            log.debug("ended %d process(es) this command left running: %s", len(left), left)
        if previous is None:
            os.environ.pop(VARIABLE, None)
        else:
            os.environ[VARIABLE] = previous
        _write(record | {"ended": True, "ended_at": time.time(), "left": left})
