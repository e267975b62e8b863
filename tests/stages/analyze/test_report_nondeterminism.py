"""The report says what of the run a rerun may change: stages that may not repeat with the same seed, and
responses set aside because their endpoint requests failed (both from the stages' manifests)."""

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


def test_the_report_counts_the_responses_set_aside_for_failed_requests(tmp_path, demo_verdicts):
    sizes = {"judge/verdicts": 120, "judge/failed_requests": 3, "capability/failed_requests": 2}
    sizes["warmth/failed_requests"] = 4
    analyze(demo_verdicts, tmp_path, config=AnalyzeConfig(), run_info={"data_sizes": sizes})
    md = (tmp_path / "report.md").read_text()
    assert "Responses without a verdict, their endpoint request failed after every try: 3" in md
    assert "Capability items unscored, their endpoint request failed after every try: 2" in md
    assert "Warmth answers never given (unscored), their endpoint request failed after every try: 4" in md
    assert "warmth/failed_requests.parquet" in md
    assert "--retry-failed" in md
    analyze(demo_verdicts, tmp_path, config=AnalyzeConfig(), run_info={"data_sizes": {"judge/verdicts": 9}})
    assert "--retry-failed" not in (tmp_path / "report.md").read_text()
