"""Docstrings, comments and config descriptions state contracts and reasons; measured figures live in
benchmarks/RESULTS.md.

A figure measured on one machine with one Ray and one vLLM goes stale with the next release, and a
docstring gives no date or command to rerun it. The rule is deliberately simple: a number with a unit of
speed or time (tokens/s, ms, "12 s"), an "N x faster/slower", or the word "measured" near a number.
"""

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "warmray"

MEASUREMENT = re.compile(
    r"\d[^.;]*\b(tokens|tok)/s"  # a throughput
    r"|\d(\.\d+)?(\s?ms| s| minutes?)\b"  # a duration: 0.60 s, 45 s, 12 ms, 3.5 minutes
    r"|\d(\.\d+)?\s?[x×]\s(faster|slower)"  # a speed-up
    r"|\bmeasured\b[^.;]*\d|\d[^.;]*\bmeasured\b"  # "measured" beside a number
    r"|\b\d[- ]cores?\b"  # the development machine's size, the mark of a local timing
    r"|\bone run each\b|\bone day\b|\bin a profile\b",
    re.IGNORECASE,
)

# (file relative to warmray/, a fragment of the line): a fixed figure that is a contract, not a measurement.
ALLOWED = {
    ("runtime.py", "a fixed 30 s to register"),  # Ray's constant, named with the version that has it
}


def docstrings_and_comments(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of every docstring line, comment and field `description=` in a module."""
    source = path.read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.keyword) and node.arg == "description":
            for part in ast.walk(node.value):  # a literal, or literals joined by +
                if isinstance(part, ast.Constant) and isinstance(part.value, str):
                    yield part.lineno, part.value
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node, clean=False)
            if doc and node.body:
                first = node.body[0].lineno
                for offset, line in enumerate(doc.splitlines()):
                    yield first + offset, line
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string


def measurements(root: Path) -> list[str]:
    """`file:line: text` for each docstring or comment line under `root` that reads like a measurement."""
    found = []
    for path in sorted(root.rglob("*.py")):
        name = str(path.relative_to(root))
        for line, text in docstrings_and_comments(path):
            if MEASUREMENT.search(text) and not any(name == f and frag in text for f, frag in ALLOWED):
                found.append(f"{name}:{line}: {text.strip()}")
    return found


def test_no_docstring_or_comment_in_the_package_carries_a_measured_figure():
    found = measurements(PACKAGE)
    assert not found, "move these figures to benchmarks/RESULTS.md (dated, with machine and command):\n" + (
        "\n".join(found)
    )


def test_the_rule_catches_a_benchmark_diary_and_passes_a_contract(tmp_path):
    (tmp_path / "diary.py").write_text(
        '"""Fast: 52.7 to 68.6 tokens/s on 2 cores."""\n\n'
        "X = 1  # 0.60 s against 0.66 s, one run each\n"
        "Y = 2  # 3.1x faster than before\n"
    )
    (tmp_path / "contract.py").write_text(
        '"""Rows with a 95% Wilson interval; at most 128 new tokens per answer."""\n\nZ = 3  # the 2nd try\n'
    )
    assert [f.split(":")[:2] for f in measurements(tmp_path)] == [
        ["diary.py", "1"],
        ["diary.py", "3"],
        ["diary.py", "4"],
    ]
