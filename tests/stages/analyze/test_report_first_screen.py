"""The report a researcher opens first: honest statistics at small n, and what `analyze` reads or refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from manifest_helpers import finish_stage

from warmray.cli import main
from warmray.config import AnalyzeConfig
from warmray.grading.agreement import KAPPA_UNDEFINED, Source, agreement_table, join, kappa, kappa_text
from warmray.report.agreement import judge_agreement_blocks
from warmray.report.blocks import Table, Text
from warmray.report.sections import terminal_lines
from warmray.report.study_sections import cell_layout
from warmray.schema import write_table
from warmray.stages.analyze import analyze
from warmray.statistics.glm import SPECS, fit_one
from warmray.statistics.paired import paired_cells
from warmray.statistics.synthetic import synthetic_capability, synthetic_verdicts, synthetic_warmth
from warmray.statistics.verdicts import prepare

DEMO_RUN = {
    "models": {"smollm2": "builtin:smollm2-135m"},
    "judge": "reference answer matching (analyze.verdicts: reference); the LLM judge builtin:smollm2-135m "
    "graded beside it",
    "verdicts_from": "reference",
    "builtin_model": True,
    "builtin_sources": ["builtin:smollm2-135m"],
}


def demo_sized(seed: int = 5) -> pd.DataFrame:
    """Verdicts shaped like `make demo`'s (smoke.yaml): 8 items, 2 templates, 2 contexts, 4 variants."""
    frame = synthetic_verdicts(
        ("smollm2",), ("demo",), 8, variants=("original", "warm", "cold", "warm_sysprompt"), seed=seed
    )
    keep = frame["prompt_template"].isin(["original", "incorrect"])
    keep &= frame["amendment_type"].isin(["unmodified", "emotion:sad"])
    return frame[keep].reset_index(drop=True)


def degenerate_at_sad() -> pd.DataFrame:
    """No error in either arm under the sad context, some errors without it: the sad level's fit diverges."""
    frame = synthetic_verdicts(("m",), ("demo",), 8, seed=5)
    frame = frame[(frame["prompt_template"] == "original")]
    frame = frame[frame["amendment_type"].isin(["unmodified", "emotion:sad"])].reset_index(drop=True)
    sad = (frame["amendment_type"] == "emotion:sad").to_numpy()
    wrong = np.arange(len(frame)) % 3 == 0
    return frame.assign(verdict=np.where(~sad & wrong, "INCORRECT", "CORRECT"))


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory) -> Path:
    """A report of a demo-sized run, with its judge agreement where one grader says CORRECT to everything."""
    run = tmp_path_factory.mktemp("demo-run")
    verdicts = demo_sized()
    llm = verdicts.assign(verdict="CORRECT")
    table = agreement_table(join(Source("llm", llm, "verdict"), Source("reference", verdicts, "verdict")))
    write_table(table, run / "judge" / "agreement.parquet", "judge_agreement")
    analyze(
        verdicts,
        run / "analyze",
        config=AnalyzeConfig(),
        run_info=DEMO_RUN,
        warmth=synthetic_warmth(("smollm2",)),
        capability=synthetic_capability(("smollm2",)),
    )
    return run / "analyze"


def test_a_diverged_level_is_not_estimable_with_its_reason_not_an_exact_zero():
    outcome = fit_one(prepare(degenerate_at_sad()).frame, "warm", SPECS[2], False)
    effects = outcome.effects.set_index("level")
    sad = effects.loc["emotion:sad"]
    assert np.isnan(sad["ame_pp"]) and np.isnan(sad["ci_low_pp"]) and np.isnan(sad["p_value"])
    assert sad["note"].startswith("not estimable: no answer was wrong in either arm here")
    assert "amendment_type[T.emotion:sad]" in sad["note"]
    # The levels the diverged coefficient does not pin keep their estimates.
    assert np.isfinite(effects.loc["unmodified", "se_pp"]) and effects.loc["unmodified", "note"] == ""
    assert np.isfinite(effects.loc["all", "se_pp"])


def test_the_report_says_not_estimable_where_the_fit_diverged(tmp_path):
    analyze(degenerate_at_sad(), tmp_path, config=AnalyzeConfig())
    md = (tmp_path / "report.md").read_text()
    assert "User says they are sad: not estimable: no answer was wrong in either arm here" in md
    assert "| User says they are sad | 3 | 16 | not estimable |" in md
    assert "-0.00 to +0.00" not in md and "+0.00 to +0.00" not in md and "p = 1.000" not in md


def test_kappa_is_undefined_where_one_source_gives_a_single_label():
    paired = pd.DataFrame({"label_a": ["CORRECT"] * 6, "label_b": ["CORRECT"] * 4 + ["INCORRECT"] * 2})
    got = kappa(paired)
    assert got["agreement"] == pytest.approx(4 / 6) and np.isnan(got["kappa"])
    assert kappa_text(pd.Series(got)) == KAPPA_UNDEFINED == "undefined (one source gives a single label)"
    both = pd.DataFrame(
        {"label_a": ["CORRECT", "INCORRECT"] * 3, "label_b": ["CORRECT"] * 3 + ["INCORRECT"] * 3}
    )
    assert np.isfinite(kappa(both)["kappa"])  # two labels on each side: defined


def test_the_report_prints_an_undefined_kappa_in_words(demo_report):
    blocks = judge_agreement_blocks(demo_report)
    sentence = next(b.text for b in blocks if isinstance(b, Text))
    assert f"Cohen's kappa {KAPPA_UNDEFINED}" in sentence and "0.00" not in sentence
    table = next(b.frame for b in blocks if isinstance(b, Table))
    assert (table["kappa"] == KAPPA_UNDEFINED).all()
    assert "kappa 0.00" not in (demo_report / "report.md").read_text()


def test_the_paired_cell_description_counts_the_runs_contexts(demo_report):
    prepared = prepare(demo_sized())
    layout = cell_layout(paired_cells(prepared.frame, prepared.comparisons))
    assert "under each of 1 context(s): 2 cell(s)" in layout
    assert "each of 2 amendment type(s)" in layout
    md = (demo_report / "report.md").read_text()
    assert "8 contexts" not in md and "under each of 1 context(s): 2 cell(s)" in md


def test_too_few_items_for_a_ci_are_said_in_words_not_shown_as_intervals(demo_report):
    md = (demo_report / "report.md").read_text()
    head = md.split("## Differences from the study")[0]
    assert "Too few items for confidence intervals" in head
    assert "too few answers (±" in head and "no evidence either way" in head
    assert "; p = " not in head  # no interval or p-value posed as a finding in the sentences


def test_the_report_opens_with_caveats_then_headline_then_differences(demo_report):
    md = (demo_report / "report.md").read_text()
    order = ["built-in demonstration model", "## Headline effects", "| effect | glm | n |", "+7.43"]
    order += ["## Differences from the study", "### Judge agreement", "## Figures", "## Tables"]
    positions = [md.index(s) for s in order]
    assert positions == sorted(positions)


def test_every_figure_caption_gives_its_n_and_what_small_n_hides(demo_report):
    md = (demo_report / "report.md").read_text()
    captions = [line for line in md.splitlines() if line.startswith("*Figure")]
    assert len(captions) == 5 and all("n = " in c for c in captions)
    boxes = next(c for c in captions if c.startswith("*Figure 3"))
    assert "collapse to a line" in boxes  # one prompt cell per box at this size
    change = next(c for c in captions if c.startswith("*Figure 5"))
    assert "too few answers to read a change" in change


def test_long_tables_are_cut_short_and_link_their_csv(tmp_path):
    frame = synthetic_verdicts(("model-a", "model-b"), ("triviaqa", "disinformation"), 30, seed=2)
    analyze(frame, tmp_path, config=AnalyzeConfig())
    md = (tmp_path / "report.md").read_text()
    assert "](tables/glm_effects.csv)" in md and "The first 12 of" in md
    assert (tmp_path / "tables" / "glm_effects.csv").is_file()


def test_the_terminal_summary_carries_the_reports_caveats_and_n(demo_report):
    effects = pd.read_csv(demo_report / "tables" / "glm_effects.csv")
    text = "\n".join(terminal_lines(DEMO_RUN, effects))
    assert "built-in demonstration model SmolLM2-135M" in text
    assert "reference grader's verdicts" in text and "Too few items for confidence intervals" in text
    assert "No context, original prompts: " in text and "(n = 16; the study: +7.43 pp)" in text
    none = terminal_lines(DEMO_RUN, effects.iloc[0:0])
    assert none[-1].startswith("Headline effects: none estimated")


def test_analyze_refuses_a_missing_run_directory_and_creates_nothing(tmp_path, capsys):
    missing = tmp_path / "runs" / "demmo"
    code = main(["analyze", "configs/smoke.yaml", "--run-dir", str(missing)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert not missing.exists() and not missing.parent.exists()
    assert "does not exist, so there are no verdicts to analyse; nothing was created" in err
    assert "Traceback" not in err and err.count("\n\n") == 0


def _fake_run(root: Path, verdicts: pd.DataFrame, source: str, grader: str = "reference") -> Path:
    """A run directory as the stages leave it, reduced to what `analyze --from` reads."""
    (root / "judge" / "verdicts").mkdir(parents=True)
    verdicts.to_parquet(root / "judge" / "verdicts" / "smollm2.parquet")
    sections = {"judge": {"grader": grader, "model": "builtin:smollm2-135m", "refusal_rule": "warmray"}}
    finish_stage(root / "judge", config_sections=sections)
    finish_stage(root / "generate", config_sections={"models": [{"name": "smollm2", "source": source}]})
    return root


def test_analyze_from_a_run_directory_carries_its_banner_grader_and_files(tmp_path, capsys):
    run = _fake_run(tmp_path / "run", demo_sized().assign(grader="reference"), "builtin:smollm2-135m")
    code = main(["analyze", "--from", str(run), "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 0, err
    md = (tmp_path / "out" / "report.md").read_text()
    assert "This run used the built-in demonstration model SmolLM2-135M" in md
    assert "Judge: reference answer matching (no LLM judge)" in md
    assert f"Input files (1): {run / 'judge' / 'verdicts' / 'smollm2.parquet'}" in md
    assert "built-in demonstration model" in out and "Too few items for confidence intervals" in out


def test_analyze_from_files_names_the_grader_of_their_grader_column(tmp_path, capsys):
    path = tmp_path / "verdicts.parquet"
    demo_sized().assign(grader="llm:builtin:smollm2-135m").to_parquet(path)
    code = main(["analyze", "--from", str(path), "--out", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    md = (tmp_path / "out" / "report.md").read_text()
    assert "Judge: LLM judge builtin:smollm2-135m (the verdicts' grader column)" in md
    assert "135M-parameter LLM judge" in md  # the caveat the run's own report would have given
    assert f"Input files (1): {path}" in md
