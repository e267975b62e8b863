"""Shared fixtures: where the real public data lives, and tiny configs; how two test workers share a machine.

`make test` runs the suite on two pytest-xdist workers, one test file per worker at a time (`--dist
loadfile`: a file's session fixtures, such as the tiny study, run once). On a 2-core machine an engine
start leaves one core idle part of the time, so two files side by side take less wall time than one after
the other, although each heavy test runs slower than alone.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (ROOT / ".." / "shared" / "data").resolve()

# Each worker's Ray records its address under its own temp dir: warmray joins a Ray it finds recorded on
# the machine (warmray.runtime), and one worker must never join the other's.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if _WORKER:
    os.environ.setdefault("RAY_TMPDIR", f"/tmp/ray-{_WORKER}")
    # A CPU engine decodes on OMP_NUM_THREADS threads (warmray.infer.cpu_threads): the workers split the
    # cores between them rather than each spinning threads on all of them.
    _workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, len(os.sched_getaffinity(0)) // _workers)))

# The slowest files (measured with --durations), started first so that both workers finish together
# instead of one running the sweep alone at the end.
_LONGEST_FIRST = (
    "tests/e2e/test_tiny_study.py",
    "tests/e2e/test_sweep.py",
    "tests/e2e/test_resume_generate.py",
    "tests/e2e/test_multinode.py",
    "tests/e2e/test_train_interrupts.py",
    "tests/stages/train/test_worker_fault.py",
    "tests/e2e/test_audit.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::")[0]
        return _LONGEST_FIRST.index(path) if path in _LONGEST_FIRST else len(_LONGEST_FIRST)

    items.sort(key=rank)  # stable: every other test keeps its place


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real public data files (../shared/data); tests that need it skip without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is absent (see ../shared/data/README.txt)")
    return SHARED_DATA
