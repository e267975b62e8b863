"""The one base of every anticipated error, and what trouble from outside warmray looks like to a person.

A bad config, a stage that cannot run, an unusable input file, a busy run directory, an unreachable
endpoint: each error class for these subclasses `UserError`, and the command line ends it with one
paragraph and exit code 2. Trouble that reaches warmray from outside as a library's exception (the
network, the Hugging Face hub, an endpoint that refuses connections, a full disk, a read-only folder, a
file that is not UTF-8) is no bug either: `explain_outside` turns it into the same kind of paragraph.
Anything else is a bug in warmray, and the command line shows its traceback and asks for a report.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path


class UserError(Exception):
    """An error the user can fix; its message says what is wrong and what would be valid."""


# What to change, by stage, when a stage needs the Hugging Face hub and it cannot be reached.
_OFFLINE_FIX = {
    "corpus": "point corpus.source at a local ShareGPT file (.json or .jsonl), or use builtin:demo",
    "grid": "point the task at a local copy in the published format (the task's `source`, or grid.data_dir)",
    "capability": "point capability.data_dir at a local copy of the benchmarks, or use builtin:demo items",
}
_MODEL_FIX = (
    "use a model that is already in the Hugging Face cache, a local model folder, or a builtin: model "
    "(HF_HUB_OFFLINE=1 makes the cache the only source)"
)
# The hub answered, and refused: not a network problem.
_HUB_REFUSALS = {"RepositoryNotFoundError", "GatedRepoError", "RevisionNotFoundError", "EntryNotFoundError"}
_CONNECTION_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ETIMEDOUT,
}
_CONNECTION_TYPES = {"ClientConnectorError", "ConnectError", "ConnectTimeout", "ServerDisconnectedError"}


# Exceptions that are a programming error wherever they come from: what they were raised while handling
# (their implicit `__context__`) does not make them outside trouble.
_BUG_TYPES = (TypeError, AttributeError, NameError, KeyError, IndexError, AssertionError, ZeroDivisionError)


def causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps: `__cause__`, `__context__`, and a Ray task error's `cause`.

    A programming error's implicit `__context__` is not followed: a bug in an `except` block that handled
    a network error is still a bug.
    """
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        context = None if isinstance(e, _BUG_TYPES) else e.__context__
        for inner in (getattr(e, "cause", None), e.__cause__, context):
            if isinstance(inner, BaseException):
                todo.append(inner)


def explain_outside(exc: BaseException, stage: str | None = None) -> str | None:
    """One paragraph for trouble from outside warmray (network, hub, disk, data encoding), else None.

    `exc` is searched with everything it wraps (an error inside a Ray task arrives wrapped); `stage`
    (the stage that was running, if known) picks the advice. None means the exception is not one of
    these kinds, so it is treated as a bug.
    """
    for e in causes(exc):
        if text := _explain_one(e, stage):
            return text
    return None


def _explain_one(e: BaseException, stage: str | None) -> str | None:
    for explain in (_hub, _not_utf8, _connection, _disk):
        if text := explain(e, stage):
            return text
    return None


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return (lines[0] if lines else type(e).__name__)[:300]


def _hub(e: BaseException, stage: str | None) -> str | None:
    text = str(e)
    from_hub = type(e).__module__.startswith("huggingface_hub") or "huggingface.co" in text
    if not from_hub and not (isinstance(e, ConnectionError) and "Hub" in text):
        return None
    where = f"the {stage} stage" if stage else "warmray"
    names = {t.__name__ for t in type(e).__mro__}
    if names & _HUB_REFUSALS and "LocalEntryNotFoundError" not in names:
        return (
            f"{where} asked the Hugging Face hub for something it does not give ({_first_line(e)}): check "
            "the id's spelling in the config; a gated or private repository needs its terms accepted and a "
            "login (`hf auth login`, or HF_TOKEN)."
        )
    fix = _OFFLINE_FIX.get(stage or "", _MODEL_FIX)
    return (
        f"{where} cannot reach the Hugging Face hub ({_first_line(e)}). This is the network or the hub, "
        "not warmray: check the connection (and HF_ENDPOINT or a proxy, if you use one), or work "
        f"offline: {fix}."
    )


def _not_utf8(e: BaseException, _stage: str | None) -> str | None:
    if not isinstance(e, UnicodeDecodeError):
        return None
    byte = e.object[e.start : e.start + 1].hex() if isinstance(e.object, bytes | bytearray) else "?"
    found = file_in_traceback(e)
    name = f" {found}" if found else " a file warmray read"
    return (
        f"cannot read{name}: it is not UTF-8 text (byte 0x{byte} near offset {e.start} of a read, "
        f"{e.reason}). Save the file as UTF-8 (for example `iconv -f latin1 -t utf-8 FILE > FILE.utf8`) "
        "and run the same command again."
    )


def file_in_traceback(e: BaseException) -> str | None:
    """The file a failed read was reading, from its traceback's innermost frame that names one.

    A reader names its file `path`, `file` or `f` (an open file object): the first such local, from the
    frame that raised outwards. None when no frame holds one (or the traceback is gone).
    """
    frames = []
    tb = e.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        for name in ("path", "file", "f"):
            value = frame.f_locals.get(name)
            if isinstance(value, Path):
                return str(value)
            if isinstance(getattr(value, "name", None), str) and hasattr(value, "read"):
                return str(value.name)
    return None


def _connection(e: BaseException, _stage: str | None) -> str | None:
    names = {t.__name__ for t in type(e).__mro__}
    refused = isinstance(e, ConnectionError) or bool(names & _CONNECTION_TYPES)
    if isinstance(e, OSError) and e.errno in _CONNECTION_ERRNOS:
        refused = True
    reason = getattr(e, "reason", None)  # urllib's URLError wraps the socket error
    if isinstance(reason, ConnectionError) or getattr(reason, "errno", None) in _CONNECTION_ERRNOS:
        refused = True
    if not refused:
        return None
    return (
        f"a connection failed: {_first_line(e)}. An endpoint or server that warmray talks to is not "
        "answering (not running, a wrong host or port in the config, or a firewall between): start it or "
        "fix its address, check it with `curl URL/models`, and run the same command again; finished rows "
        "are kept."
    )


# What an OSError without an errno says instead (pyarrow's writers raise such when a write fails).
_ERRNO_TEXT = {
    "No space left on device": errno.ENOSPC,
    "Disk quota exceeded": errno.EDQUOT,
    "Read-only file system": errno.EROFS,
    "Permission denied": errno.EACCES,
}


def _disk(e: BaseException, _stage: str | None) -> str | None:
    if not isinstance(e, OSError):
        return None
    code = e.errno
    if code is None:
        code = next((n for text, n in _ERRNO_TEXT.items() if text in str(e)), None)
    if code is None:
        return None
    name = f" {e.filename}" if e.filename else ""
    if code != e.errno and not name:
        name = f" ({_first_line(e)})"
    if code in (errno.ENOSPC, errno.EDQUOT):
        where = Path(e.filename).parent if e.filename else "RUN_DIR"
        what = f"writing{name}" if name else "(the run directory's, or Ray's temporary folder's)"
        return (
            f"no space left on the device {what}. Free space there (`df -h {where}`) or give "
            "another --run-dir, and run the same command again: finished stages and the rows already "
            "written are kept, and nothing was committed half-way."
        )
    if code == errno.ENOENT and e.filename:
        return (
            f"a file warmray needs is gone: {e.filename}. If a finished stage wrote it, redo that stage "
            "(`warmray STAGE CONFIG --force`); if the config names it, fix the path."
        )
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        why = "the file system is read-only" if code == errno.EROFS else "permission denied"
        return (
            f"cannot write or read{name}: {why}. Give a --run-dir (or run_dir in the config) that you can "
            "write to, or fix the folder's permissions, and run the same command again."
        )
    return None
