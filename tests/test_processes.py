"""A command's processes end with it; a killed command's are ended by the next: by token, never by name."""

import os
import subprocess
import sys
import time

import pytest

from warmray import processes

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc (Linux)")


@pytest.fixture(autouse=True)
def own_registry(tmp_path, monkeypatch):
    monkeypatch.setattr(processes, "registry", lambda: tmp_path / "commands")
    monkeypatch.delenv(processes.VARIABLE, raising=False)


def sleeper(env=None) -> subprocess.Popen:
    """A process that would run for a minute (stands for an engine core a worker left behind)."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], env=env)


def test_a_token_is_found_in_a_process_environment_only_as_a_whole_word():
    environ = b"PATH=/bin\0WARMRAY_COMMAND=abc def\0HOME=/root"
    assert processes.carries(environ, "abc") and processes.carries(environ, "def")
    assert not processes.carries(environ, "ab") and not processes.carries(b"PATH=/bin", "abc")


def test_every_process_started_under_a_command_ends_when_it_ends():
    outsider = sleeper()  # started before: not the command's
    try:
        with processes.tracked(["run"]) as token:
            child = sleeper()
            assert child.pid in processes.carrying(token)
        child.wait(timeout=20)
        assert processes.carrying(token) == [] and outsider.poll() is None
        (record,) = processes.records()
        assert record["ended"] and record["left"] == [child.pid] and record["pid"] == os.getpid()
    finally:
        outsider.kill()
        outsider.wait()


def test_processes_end_also_when_the_command_fails():
    with pytest.raises(KeyboardInterrupt), processes.tracked(["run"]) as token:
        child = sleeper()
        raise KeyboardInterrupt
    child.wait(timeout=20)
    assert processes.carrying(token) == []


def test_a_killed_commands_processes_are_ended_by_the_next_command_and_no_others():
    # A command killed by SIGKILL: its record says not ended, and its pid is gone.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    started = processes.start_time(dead.pid)
    dead.wait()
    processes._write({"token": "killed", "pid": dead.pid, "start": started, "argv": ["run"], "ended": False})
    left = sleeper(os.environ | {processes.VARIABLE: "killed"})
    # A live command's processes are its own business.
    processes._write(
        {"token": "alive", "pid": os.getpid(), "start": processes.start_time(os.getpid()), "ended": False}
    )
    live = sleeper(os.environ | {processes.VARIABLE: "alive"})
    try:
        time.sleep(0.5)  # the children have exec'd
        assert processes.reap() == 1
        left.wait(timeout=20)
        assert live.poll() is None
        ended = {r["token"]: r for r in processes.records()}
        assert ended["killed"]["ended"] and ended["killed"]["left"] == [left.pid]
        assert not ended["alive"]["ended"]
    finally:
        live.kill()
        live.wait()
