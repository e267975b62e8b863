"""After the shared tiny study's `warmray run` ended normally, none of the processes it started lives on.

Its processes are the ones carrying the token warmray recorded for that command (warmray.processes):
the local Ray, its workers and whatever an engine started beside them (vLLM's engine core, a
multiprocessing resource tracker), found by environment whatever they renamed themselves to. SIGTERM
and SIGKILL are checked on the generate run of test_resume_generate.py.
"""

import pytest

from warmray import processes

pytestmark = pytest.mark.slow


def test_no_process_of_a_finished_run_is_alive(tiny_study):
    records = [r for r in processes.records() if r["pid"] == tiny_study.first_pid]
    assert records, f"the run recorded no token in {processes.registry()}"
    record = max(records, key=lambda r: r["started_at"])
    assert record["ended"] and record["argv"][0] == "run"
    assert processes.carrying(record["token"]) == []
