"""`python -m warmray.audit TARGET...`: the audit on its own, until `warmray audit` is wired into the CLI."""

from __future__ import annotations

import argparse
import logging
import sys

from warmray.audit import add_arguments, command


def main(argv: list[str] | None = None) -> int:
    """Parse the audit's arguments, log like the warmray command, run it."""
    parser = argparse.ArgumentParser(prog="python -m warmray.audit", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s warmray %(levelname)s %(message)s", datefmt="%H:%M:%S"
    )
    return command(args)


if __name__ == "__main__":
    sys.exit(main())
