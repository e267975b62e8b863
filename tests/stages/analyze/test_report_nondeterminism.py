"""The report says which stages a rerun with the same seed may not repeat (from their manifests)."""

from warmray.config import AnalyzeConfig
from warmray.stages.analyze import analyze


def test_the_report_names_each_stage_that_may_differ_in_a_rerun(tmp_path, demo_verdicts):
    note = "rewrite's rewrites may differ between two runs: it samples on a CPU vLLM engine"
    analyze(demo_verdicts, tmp_path, config=AnalyzeConfig(), run_info={"nondeterministic": {"rewrite": note}})
    md = (tmp_path / "report.md").read_text()
    assert f"Not repeatable (rewrite): {note}" in md and "warmray compare" in md


def test_a_repeatable_run_says_nothing_of_it(tmp_path, demo_verdicts):
    analyze(demo_verdicts, tmp_path, config=AnalyzeConfig(), run_info={"nondeterministic": {}})
    assert "Not repeatable" not in (tmp_path / "report.md").read_text()
