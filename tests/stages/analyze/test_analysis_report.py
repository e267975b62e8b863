from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import matplotlib.image as mpimg
import pandas as pd
import pytest

from warmray.config import AnalyzeConfig
from warmray.report.sections import caveats
from warmray.stages.analyze import analyze
from warmray.statistics.synthetic import synthetic_capability, synthetic_verdicts, synthetic_warmth

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
BUILTIN_RUN = {
    "models": {"smollm2": "builtin:smollm2-135m"},
    "judge": "LLM judge builtin:smollm2-135m",
    "builtin_model": True,
    "data_sizes": {"judge/verdicts": 1},
    "versions": {"judge": {"statsmodels": "0.15.0"}},
}


@pytest.fixture(scope="module")
def full_report(tmp_path_factory) -> Path:
    """A report over two models, three variants, warmth and capability scores."""
    out = tmp_path_factory.mktemp("report")
    frame = synthetic_verdicts(
        ("model-a", "model-b"),
        ("triviaqa", "disinformation"),
        60,
        variants=("original", "warm", "cold", "warm_sysprompt"),
        seed=4,
        refusal_rate=0.03,
        unparseable_rate=0.01,
    )
    counts = analyze(
        frame,
        out,
        config=AnalyzeConfig(),
        run_info={"models": {"model-a": "org/a", "model-b": "org/b"}},
        warmth=synthetic_warmth(("model-a", "model-b")),
        capability=synthetic_capability(("model-a", "model-b")),
    )
    (out / "counts.txt").write_text(repr(counts))
    return out


def test_analyze_writes_every_table_and_returns_its_row_count(full_report):
    counts = eval((full_report / "counts.txt").read_text())  # noqa: S307 - our own repr
    assert set(counts) == {
        "glm_effects",
        "glm_fits",
        "paired_cells",
        "paired_cells_by_template",
        "error_no_context",
        "error_summary",
        "dropped_rows",
        "belief_sources",
        "capability",
        "warmth_by_checkpoint",
    }
    for name, n in counts.items():
        assert len(pd.read_csv(full_report / "tables" / f"{name}.csv")) == n
    fits = pd.read_csv(full_report / "tables" / "glm_fits.csv")
    assert set(fits["comparison"]) == {"warm", "cold", "warm_sysprompt"} and fits["fitted"].all()
    assert set(fits["models"]) == {"model-a, model-b"}
    cells = pd.read_csv(full_report / "tables" / "paired_cells.csv")
    assert len(cells) == 2 * 2 * 3 * 18  # models x tasks x variants x (9 context + 9 belief)
    dropped = pd.read_csv(full_report / "tables" / "dropped_rows.csv")
    assert len(dropped) == 2 * 2 * 4 and (dropped["dropped"] > 0).all()


def test_report_gives_the_studys_cell_sentence_the_dropped_rows_and_the_p_value_note(full_report):
    md = (full_report / "report.md").read_text()
    assert re.search(
        r"warm: less accurate than the original in \d+% of 72 cells; [\d,]+ cells significant after FDR "
        r"\(q < 0.05\): \d+% of all cells, \d+% of the \d+ testable; .*; \d+ untestable",
        md,
    )
    assert "### Rows dropped, by variant" in md and "### Belief answers: how they were made" in md
    assert "GLMs for warm vs original fitted on the models with both arms: model-a, model-b." in md
    assert "sum of the logit coefficients" in md


def test_all_five_figures_are_drawn(full_report):
    names = sorted(p.name for p in (full_report / "figures").glob("*.png"))
    assert names == [
        "fig1_warmth_by_epoch.png",
        "fig2_error_scatter.png",
        "fig3_error_boxes.png",
        "fig4_capability.png",
        "fig5_context_change.png",
    ]


def test_report_puts_headline_then_differences_then_figures_then_tables_then_the_run(full_report):
    md = (full_report / "report.md").read_text()
    order = ("## Headline effects", "## Differences from the study", "## Figures", "## Tables")
    positions = [md.index(h) for h in (*order, "## What this run was")]
    assert positions == sorted(positions)
    assert "No context, original prompts: +" in md or "No context, original prompts: -" in md
    assert "unparseable verdicts dropped:" in md and "refusals counted correct (disinformation)" in md
    assert "built-in demonstration model" not in md  # not a builtin run
    assert "](figures/fig2_error_scatter.png)" in md


def test_html_report_is_self_contained_with_decodable_figures(full_report):
    page = (full_report / "report.html").read_text()
    assert not re.search(r"""src=['"](?!data:)""", page)  # nothing fetched from elsewhere
    # Links only to the CSVs written beside the report (followed by the reader, never loaded).
    assert re.findall(r"""href=['"]([^'"]*)""", page)
    assert all(
        h.startswith("tables/") and h.endswith(".csv") for h in re.findall(r"""href=['"]([^'"]*)""", page)
    )
    images = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert len(images) == 5
    for data in images:
        assert mpimg.imread(io.BytesIO(base64.b64decode(data)), format="png").shape[0] > 100


def test_builtin_run_says_the_numbers_demonstrate_the_pipeline_only(tmp_path, demo_verdicts):
    analyze(demo_verdicts, tmp_path, config=AnalyzeConfig(), run_info=BUILTIN_RUN)
    md = (tmp_path / "report.md").read_text()
    head = md[: md.index("## Headline effects")]
    assert "not evidence for or against the study's finding" in head
    assert "This run used the built-in demonstration model SmolLM2-135M (builtin:smollm2-135m)." in head
    assert "135M-parameter LLM judge, which is not a meaningful grader" in head
    assert "tiny-random" not in head


def test_builtin_run_names_the_models_it_actually_used(tmp_path, demo_verdicts):
    run_info = {
        **BUILTIN_RUN,
        "models": {"tiny": "builtin:tiny-random"},
        "builtin_sources": ["builtin:tiny-random"],
    }
    analyze(demo_verdicts, tmp_path, config=AnalyzeConfig(), run_info=run_info)
    head = (tmp_path / "report.md").read_text().split("## Headline effects")[0]
    assert "This run used builtin:tiny-random, a 2-layer Llama with random weights" in head
    assert "noise by design" in head and "not evidence for or against the study's finding" in head
    assert "SmolLM2-135M (" not in head
    # the judge was still the builtin SmolLM2
    assert "135M-parameter LLM judge, which is not a meaningful grader" in head


@pytest.mark.parametrize(
    ("run_info", "said", "unsaid"),
    [
        # before builtin_sources existed: the builtin models are read off `models`
        (
            {"models": {"t": "builtin:tiny-random"}, "builtin_model": True},
            ["builtin:tiny-random, a 2-layer"],
            [],
        ),
        (
            {"builtin_sources": ["builtin:smollm2-135m", "builtin:tiny-random"]},
            ["SmolLM2-135M (builtin:smollm2-135m) and builtin:tiny-random, a 2-layer"],
            ["LLM judge"],
        ),
        ({"builtin_model": True}, ["This run used a built-in model."], []),
        (
            {"models": {"t": "builtin:tiny-random"}, "judge": "LLM judge builtin:tiny-random"},
            ["judge with random weights (builtin:tiny-random)"],
            ["135M-parameter"],
        ),
        ({"models": {"a": "org/a"}, "judge": "LLM judge org/judge"}, [], ["This run used", "LLM judge"]),
    ],
)
def test_caveats_follow_the_run_info(run_info, said, unsaid):
    text = " ".join(block.text for block in caveats(run_info))
    assert all(s in text for s in said) and not any(u in text for u in unsaid)


def test_missing_inputs_are_explained_not_fatal(tmp_path, demo_verdicts):
    only_unmodified = demo_verdicts[demo_verdicts["amendment_type"] == "unmodified"]
    analyze(only_unmodified, tmp_path, config=AnalyzeConfig(), run_info=None)
    md = (tmp_path / "report.md").read_text()
    assert "Figure 1: not drawn — no warmth scores" in md
    assert "Figure 4: not drawn — no capability scores" in md
    assert "Emotional context: not estimated (GLM 2 skipped: needs at least two levels" in md


def test_verdicts_without_a_fine_tuned_variant_still_give_a_report(tmp_path, demo_verdicts):
    counts = analyze(demo_verdicts[demo_verdicts["variant"] == "original"], tmp_path, config=AnalyzeConfig())
    assert counts["glm_effects"] == 0 and counts["paired_cells"] == 0
    assert "No fine-tuned variant to compare" in (tmp_path / "report.md").read_text()


def test_separated_effect_is_reported_without_a_confidence_interval(tmp_path, demo_verdicts):
    wrong_when_warm = demo_verdicts["variant"].map({"original": "CORRECT", "warm": "INCORRECT"})
    analyze(demo_verdicts.assign(verdict=wrong_when_warm), tmp_path, config=AnalyzeConfig())
    md = (tmp_path / "report.md").read_text()
    assert "No context, original prompts: +100.00 pp (no CI: separation" in md
    assert "nan" not in md.lower()


def test_length_covariate_setting_is_reported(tmp_path, demo_verdicts):
    analyze(demo_verdicts, tmp_path, config=AnalyzeConfig(length_covariate=True))
    assert "response-length covariate on" in (tmp_path / "report.md").read_text()


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return found


def _headless(browser: str, profile: str, *args: str) -> subprocess.CompletedProcess:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
    ]
    return subprocess.run([browser, *flags, *args], capture_output=True, text=True, timeout=120)


def test_report_renders_in_headless_chromium(tmp_path):
    browser = _chromium()
    frame = synthetic_verdicts(("model-a",), ("triviaqa", "disinformation"), 40, seed=8)
    analyze(
        frame,
        tmp_path,
        config=AnalyzeConfig(),
        run_info=BUILTIN_RUN,
        warmth=synthetic_warmth(),
        capability=synthetic_capability(),
    )
    url = (tmp_path / "report.html").as_uri()
    with tempfile.TemporaryDirectory() as profile:
        dom = _headless(browser, profile, "--dump-dom", url)
    assert "Headline effects" in dom.stdout and dom.stdout.count("<img") == 5
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "analysis_report.png"
    shot.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        _headless(browser, profile, f"--screenshot={shot}", "--window-size=1280,2000", url)
    pixels = mpimg.imread(shot)
    assert pixels.shape[:2] == (2000, 1280)
    assert pixels[..., :3].std() > 0.05  # text, tables and the warning box, not a blank page


def test_every_report_opens_with_the_headline_then_the_differences_table(full_report):
    from warmray.report.differences import DIFFERENCES

    md = (full_report / "report.md").read_text()
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings[:3] == [
        "# warmray: warmth fine-tuning and reliability",
        "## Headline effects",
        "## Differences from the study",
    ]
    section = md.split("## Differences from the study", 1)[1].split("\n## ", 1)[0]
    assert all(d.point in section for d in DIFFERENCES)
    html = (full_report / "report.html").read_text()
    assert html.index("Headline effects") < html.index("Differences from the study") < html.index("Figures")
    assert "judge.refusal_rule: study_as_run" in html
