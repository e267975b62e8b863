"""Two fresh runs of one config give the same tables: the shared tiny study against a second run of its
first stages in a new run directory, measured by `warmray compare`.

The rewrite samples (temperature 1 in tiny.yaml) on a CPU engine: with a seed per request, from the run's
seed and the row's id, its rewrites and training tables must come out equal whatever order Ray Data
feeds the rows in. One engine start more than the study (the rewrite's), no training.
"""

import pytest
from e2e_helpers import warmray

from warmray.compare import compare_runs

pytestmark = pytest.mark.slow


def test_a_second_fresh_run_gives_the_same_corpus_and_rewrite_tables(tmp_path, tiny_study):
    again = tmp_path / "again"
    args = [str(tiny_study.config), "--run-dir", str(again), "--set", "generate.sampling.max_tokens=12"]
    second = warmray("run", *args, "--until", "rewrite")
    assert second.returncode == 0, second.stdout + second.stderr[-4000:]
    diffs, _ = compare_runs(tiny_study.run_dir, again)
    ours = {d.name: d for d in diffs if d.name.split("/")[0] in ("corpus", "rewrite")}
    assert all(ours[name].rows_a > 0 for name in ("rewrite/warm", "rewrite/cold", "rewrite/rewrites"))
    assert all(d.identical for d in ours.values()), [
        (d.name, d.different, d.only_a, d.only_b, d.columns) for d in ours.values() if not d.identical
    ]
    shown = warmray("compare", str(tiny_study.run_dir), str(again))
    assert shown.returncode == 0, shown.stderr
    assert "rewrite/warm" in shown.stdout and "tables identical" in shown.stdout
