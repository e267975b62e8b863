"""`warmray judge-agreement A B`: agreement, Cohen's kappa and the confusion of two verdict sources.

The command's shell over `warmray.grading`'s agreement functions: it reads both sources as `--from` reads
them everywhere, prints the figures, and writes them to `--out` when given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from warmray.grading import AgreementError, compare, kappa_text, read_source


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `judge-agreement` command's arguments."""
    parser.add_argument(
        "a",
        help="PATH or PATH:COLUMN (default column: verdict; the study's files: evaluation): a CSV/Parquet "
        "file, a folder, a run directory, or the study's released outputs folder",
    )
    parser.add_argument("b", help="PATH or PATH:COLUMN, compared with A")
    parser.add_argument("--out", type=Path, help="folder for agreement.csv, confusion.csv, agreement.json")


def command(args: argparse.Namespace) -> int:
    """Print agreement, kappa and the confusion matrix of A and B; write them when --out is given."""
    try:
        a, b = read_source(args.a), read_source(args.b)
        table, matrix = compare(a, b)
    except (AgreementError, OSError) as e:
        print(f"warmray judge-agreement: {e}", file=sys.stderr)
        return 2
    overall = table.iloc[0]
    print(
        f"A = {args.a}: {a.read}\nB = {args.b}: {b.read}\n"
        f"{int(overall['n'])} paired rows: agreement {overall['agreement']:.1%}, "
        f"Cohen's kappa {kappa_text(overall, 3)}\n\nconfusion (rows A, columns B):\n{matrix.to_string()}\n\n"
        f"{table.to_string(index=False, float_format=lambda x: f'{x:.3f}')}"
    )
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out / "agreement.csv", index=False)
        matrix.to_csv(args.out / "confusion.csv")
        summary = {
            "a": args.a,
            "b": args.b,
            **{k: overall[k] for k in table.columns if k not in ("scope", "level")},
        }
        (args.out / "agreement.json").write_text(json.dumps(summary, indent=2, default=float))
    return 0
