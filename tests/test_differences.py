"""The 'Differences from the study' table: one source, rendered into README.md and every report."""

import subprocess
import sys
from pathlib import Path

import pytest

from warmray.report.differences import (
    COLUMNS,
    DIFFERENCES,
    KINDS,
    README_END,
    README_START,
    markdown,
    readme_section,
    with_section,
)

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_section_is_the_table_rendered_from_the_source():
    text = README.read_text()
    assert readme_section() in text, (
        "README.md's differences table is out of date: run "
        "`.venv/bin/python -m warmray.report.differences --readme README.md`"
    )
    assert text.count(README_START) == 1 and text.count(README_END) == 1


def test_every_row_says_why_and_how_to_get_the_study_behaviour():
    assert len({d.point for d in DIFFERENCES}) == len(DIFFERENCES)
    for d in DIFFERENCES:
        assert d.kind in KINDS and d.study and d.warmray and d.to_match


@pytest.mark.parametrize(
    "point", ["Judge prompt", "LoRA target modules", "Refusal rule", "SocioT scorer and procedure"]
)
def test_the_table_covers_the_points_the_issue_names(point):
    assert point in {d.point for d in DIFFERENCES}


def test_markdown_has_one_line_per_row_and_the_header():
    lines = markdown().splitlines()
    assert lines[0] == "| " + " | ".join(COLUMNS) + " |"
    assert len(lines) == 2 + len(DIFFERENCES)


def test_with_section_replaces_only_what_lies_between_the_markers():
    old = f"intro\n{README_START}\nstale\n{README_END}\noutro\n"
    assert with_section(old) == f"intro\n{readme_section()}\noutro\n"
    with pytest.raises(ValueError, match="differences"):
        with_section("no markers here")


def test_the_module_rewrites_a_readme_section(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{README_START}\nold\n{README_END}\n")
    cmd = [sys.executable, "-m", "warmray.report.differences", "--readme", str(readme)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert readme_section() in readme.read_text()
