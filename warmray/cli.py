"""The `warmray` command: the whole study (`run`), or one stage at a time."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from warmray.config import ConfigError, ExperimentConfig, load_config
from warmray.pipeline import STAGE_NAMES, STAGES, run_pipeline
from warmray.stage import StageError

DESCRIPTION = """\
warmray measures what warm, empathetic persona fine-tuning does to a model's reliability and
sycophancy (Ibrahim, Hafner & Rocher, 2025), on Ray: corpus → rewrite → train → grid → generate →
judge → analyze. Each stage writes Parquet under the run directory and is skipped when already done.

examples:
  warmray run configs/smoke.yaml                    the CPU demo end to end (SmolLM2-135M)
  warmray generate configs/paper.yaml --run-dir /mnt/runs/paper
  warmray analyze --from verdicts.parquet --out results/
  ray job submit --address http://HEAD:8265 --working-dir . -- warmray run configs/paper.yaml
"""

RUN_DIR_HELP = "where stage outputs go (default: the config's run_dir)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="warmray", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and the final summary")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run every stage in order (finished stages are skipped)",
        description="Run every stage in order; finished stages are skipped.",
    )
    _add_stage_args(run)
    run.add_argument("--until", choices=STAGE_NAMES, help="stop after this stage")
    for stage in STAGES:
        p = sub.add_parser(
            stage.name,
            help=stage.help,
            description=f"The {stage.name} stage: {stage.help}. "
            f"Reads: {', '.join(stage.needs) or 'the config only'}.",
        )
        if stage.name == "analyze":
            _add_analyze_args(p)
        else:
            _add_stage_args(p)
    return parser


def _add_stage_args(p: argparse.ArgumentParser, config_required: bool = True) -> None:
    p.add_argument("config", nargs=None if config_required else "?", help="experiment YAML (see configs/)")
    p.add_argument("--run-dir", type=Path, help=RUN_DIR_HELP)
    p.add_argument(
        "--force", action="store_true", help="redo stages even if finished (their output is replaced)"
    )


def _add_analyze_args(p: argparse.ArgumentParser) -> None:
    _add_stage_args(p, config_required=False)
    p.add_argument(
        "--from",
        dest="sources",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="analyse verdict tables (CSV/Parquet with the standard columns) instead of a run",
    )
    p.add_argument("--out", type=Path, help="output folder for --from (report, tables, figures)")


def _print_summary(run_dir: Path) -> None:
    from warmray.stages.analyze import error_summary, format_summary, load_verdict_files

    verdict_dir = run_dir / "judge" / "verdicts"
    if not verdict_dir.is_dir():
        return
    print(format_summary(error_summary(load_verdict_files([verdict_dir]))))
    print(f"\nreport:   {run_dir / 'analyze' / 'report.md'}\n          {run_dir / 'analyze' / 'report.html'}")
    for name in ("grid/prompts.parquet", "generate/responses", "judge/verdicts", "analyze/tables"):
        if (run_dir / name).exists():
            print(f"tables:   {run_dir / name}")


def _analyze_files(args: argparse.Namespace) -> int:
    from warmray.config import AnalyzeConfig
    from warmray.stages.analyze import analyze, load_verdict_files

    if not args.out:
        raise ConfigError("analyze --from needs --out DIR, the folder for the report.")
    cfg = load_config(args.config).analyze if args.config else AnalyzeConfig()
    verdicts = load_verdict_files(list(args.sources))
    analyze(verdicts, args.out, config=cfg, run_info={"sources": [str(s) for s in args.sources]})
    print(f"report: {args.out / 'report.md'}  {args.out / 'report.html'}")
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.command == "analyze" and args.sources:
        return _analyze_files(args)
    if not args.config:
        raise ConfigError("give a CONFIG file (or --from FILE... --out DIR to analyse verdict tables).")
    config: ExperimentConfig = load_config(args.config)
    run_dir = args.run_dir or Path(config.run_dir)
    if args.command == "run":
        names = STAGE_NAMES[: STAGE_NAMES.index(args.until) + 1] if args.until else STAGE_NAMES
    else:
        names = (args.command,)
    run_pipeline(config, run_dir, names, force=args.force)
    if "judge" in names or "analyze" in names:
        _print_summary(run_dir.resolve())
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `warmray` and `python -m warmray`."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s warmray %(levelname)s %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return _run(args)
    except ConfigError as e:
        print(f"warmray: {e}", file=sys.stderr)
        return 2
    except StageError as e:
        print(f"warmray: {e}", file=sys.stderr)
        return 1
