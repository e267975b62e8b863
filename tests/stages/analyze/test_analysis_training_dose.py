"""The report says how many training conversations were spares in place of failed rewrites."""

from types import SimpleNamespace

import pandas as pd

from warmray.report.study_sections import procedure_items


def items(sizes):
    res = SimpleNamespace(
        run_info={"data_sizes": sizes}, fits=pd.DataFrame({"comparison": [], "fitted": [], "models": []})
    )
    return next(i for i in procedure_items(res) if i.startswith("Training conversations"))


def test_the_report_counts_replaced_and_unfilled_training_conversations():
    line = items({"rewrite/shared_conversations": 1617, "rewrite/replaced": 40, "rewrite/unfilled": 0})
    assert line.startswith("Training conversations: 1,617, the same for every style")
    assert "40 of them spares of the same category" in line and "0 slot(s)" in line


def test_a_run_from_before_replacement_reports_only_the_shared_count():
    assert items({"rewrite/shared_conversations": 12}).endswith("in every configured style).")
