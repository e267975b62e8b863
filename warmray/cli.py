"""The `warmray` command: the whole study (`run`), one stage at a time, and the tools beside the pipeline."""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from warmray import processes, progress
from warmray.config import ConfigError, ExperimentConfig, add_overrides_argument, load_config
from warmray.console import (
    Console,
    CountWarnings,
    add_from_argument,
    add_retry_failed_argument,
    add_verbose_argument,
    stop_ray,
)
from warmray.errors import UserError, explain_outside
from warmray.manifest import OutdatedManifest, read_manifest
from warmray.pipeline import STAGE_NAMES, STAGES, run_pipeline
from warmray.rundir import RunDir
from warmray.stage import Decision, Stage, StageError

DESCRIPTION = """\
warmray measures what warm, empathetic persona fine-tuning does to a model's reliability and
sycophancy (Ibrahim, Hafner & Rocher, 2025), on Ray: corpus → rewrite → train → grid → generate →
judge → warmth → capability → analyze. Each stage writes Parquet under the run directory and is
skipped when already done; Ray's and vLLM's logs go to RUN_DIR/logs/<stage>.log.

examples:
  warmray run configs/smoke.yaml                    the CPU demo end to end (SmolLM2-135M)
  warmray run configs/paper.yaml --set grid.data_dir=/data --set train.epochs=2
  warmray generate configs/paper.yaml --run-dir /mnt/runs/paper
  warmray analyze --from verdicts.parquet --out results/
  ray job submit --address http://HEAD:8265 --working-dir . -- warmray run configs/paper.yaml

exit codes: 0 done; 2 a problem warmray explains (config, input data, busy run directory, the hub or
an endpoint out of reach, Ray that did not start, a full disk, ...); 1 a bug in warmray (the traceback
is shown); 130 interrupted (the run directory stays resumable).
"""

# Commands beside the pipeline: name -> (module with add_arguments(parser) and command(args), help).
TOOLS = {
    "plan": ("warmray.plan", "resources, token counts and GPU-hours of a config, without running it"),
    "sweep": ("warmray.sweep", "Ray Tune over warmth strength: the warmth-reliability frontier"),
    "audit": (
        "warmray.audit",
        "a sycophancy and reliability profile card of models or endpoints, no training",
    ),
    "sociot": ("warmray.sociot_texts", 'SocioT warmth of arbitrary texts ({"text": ...} per line)'),
    "judge-agreement": (
        "warmray.judge_agreement",
        "agreement, Cohen's kappa and confusion of two verdict sources",
    ),
    "inspect-logs": (
        "warmray.inspect_logs",
        "a run's or an audit's evaluation as inspect logs, for `inspect view --log-dir RUN_DIR/inspect`",
    ),
    "compare": (
        "warmray.compare",
        "two run directories table by table (rows equal, different) and their effect sizes side by side",
    ),
}


def _parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; a tool's own arguments are loaded only when that tool is the command."""
    parser = argparse.ArgumentParser(
        prog="warmray", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"warmray {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="run every stage in order (finished stages are skipped)",
        description="Run every stage the config uses, in order. Before starting it prints what each "
        "stage will do and why (skip: already finished; run; redo: an input or a prompt file changed).",
    )
    _add_stage_args(run)
    run.add_argument("--until", choices=STAGE_NAMES, help="stop after this stage")
    for stage in STAGES:
        p = sub.add_parser(
            stage.name,
            help=stage.help,
            description=f"The {stage.name} stage: {stage.help}. "
            f"Reads: {_reads(stage)}. Writes RUN_DIR/{stage.name}/.",
        )
        _add_stage_args(p, config_required=stage.name not in ("analyze", "judge"))
        if stage.name == "judge" == command:  # `judge --from FILE --out DIR`: grade responses made elsewhere
            importlib.import_module("warmray.judge_files").add_arguments(p)
        if stage.name == "analyze":
            add_from_argument(
                p,
                "analyse verdicts instead of a run: CSV/Parquet files, folders, run directories, or the "
                "study's released outputs folder (read as judge --from and judge-agreement read them)",
            )
            p.add_argument("--out", type=Path, help="output folder for --from (report, tables, figures)")
            p.add_argument(
                "--refusal-rule",
                choices=("study_as_run", "warmray", "strict"),
                help="with --from: the rule that derives a refusal flag a row lacks (default: the config's "
                "judge.refusal_rule)",
            )
            p.add_argument(
                "--rederive-refusals",
                action="store_true",
                help="with --from: derive every row's refusal flag from its response, ignoring the files'",
            )
    for name, (module, help_text) in TOOLS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:  # its module may import more than the rest of the command line needs
            importlib.import_module(module).add_arguments(p)
        p.set_defaults(tool=module)
    return parser


def _version() -> str:
    """The installed warmray's version (a source tree that is not installed says so)."""
    from importlib import metadata

    try:
        return metadata.version("warmray")
    except metadata.PackageNotFoundError:
        return "(not installed)"


def _reads(stage: Stage) -> str:
    needs = "depends on the config" if callable(stage.needs) else ", ".join(stage.needs) or "the config only"
    return needs + (f" (and {', '.join(stage.optional)} when they ran)" if stage.optional else "")


def _add_stage_args(p: argparse.ArgumentParser, config_required: bool = True) -> None:
    p.add_argument("config", nargs=None if config_required else "?", help="experiment YAML (see configs/)")
    p.add_argument("--run-dir", type=Path, help="where stage outputs go (default: the config's run_dir)")
    p.add_argument(
        "--force", action="store_true", help="redo the stages even if finished (their output is replaced)"
    )
    add_retry_failed_argument(p)
    add_overrides_argument(p)
    add_verbose_argument(p)


class Session:
    """One command's terminal, logging and the stage lines it prints."""

    def __init__(self, verbose: bool) -> None:
        """Logging to stderr (a stage's log file while it runs); progress and stage lines to the terminal."""
        self.console = Console(verbose)
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s warmray %(levelname)s %(message)s",
            datefmt="%H:%M:%S",
            stream=sys.stderr,
            force=True,
        )
        logging.getLogger().addHandler(CountWarnings(self.console))
        progress.set_sink(self.console.show)
        self.rundir: RunDir | None = None

    def announce(self, decisions: list[Decision]) -> None:
        """What each stage will do, before any starts."""
        for d in decisions:
            self.console.say(f"  {d.stage:<11}{d.action:<6}{d.reason}")

    @contextmanager
    def around_stage(self, stage: Stage) -> Iterator[None]:
        """A stage's start and end lines; its engines' output in its log file."""
        assert self.rundir is not None
        log_file = self.rundir.log(stage.name)
        before = self._output_id(stage.name)
        with self.console.capture(log_file):
            yield
        if self._output_id(stage.name) == before:  # skipped: already announced as such
            return
        manifest = read_manifest(self.rundir.stage(stage.name))
        rows = ", ".join(f"{k} {v}" for k, v in manifest.rows.items())
        self.console.say(f"  {stage.name:<11}done   {manifest.seconds:.0f}s  {rows}")

    def _output_id(self, stage: str) -> str | None:
        assert self.rundir is not None
        if not self.rundir.finished(stage):
            return None
        try:
            return read_manifest(self.rundir.stage(stage)).output_id
        except OutdatedManifest:  # the stage is redone (stage.decide), then announced as done
            return None


def _run_stages(args: argparse.Namespace, session: Session) -> int:
    if args.command == "analyze" and args.sources:
        return _analyze_files(args, session)
    if args.command == "judge" and args.sources:
        return int(importlib.import_module("warmray.judge_files").command(args))
    if not args.config:
        raise ConfigError("give a CONFIG file (or --from FILE... --out DIR to analyse verdict tables).")
    config = load_config(args.config, args.overrides)
    session.rundir = RunDir((args.run_dir or Path(config.run_dir)).expanduser().resolve())
    if args.command == "run":
        names = STAGE_NAMES[: STAGE_NAMES.index(args.until) + 1] if args.until else STAGE_NAMES
    else:
        names = (args.command,)
    if args.command == "analyze":
        _refuse_without_verdicts(session.rundir, args.config)
    session.console.say(f"warmray: {args.command} {args.config}, run directory {session.rundir.root}")
    with session.rundir.locked():
        try:
            run_pipeline(
                config,
                session.rundir.root,
                names,
                force=args.force,
                overrides=tuple(args.overrides),
                retry_failed=args.retry_failed,
                announce=lambda decisions: _before_any_stage(config, decisions, session),
                around_stage=session.around_stage,
            )
        finally:
            stop_ray(session.console, session.rundir.log("shutdown"))
    if session.rundir.finished("judge") and {"judge", "analyze"} & set(names):
        _print_summary(session, config)
    return 0


def _refuse_without_verdicts(rundir: RunDir, config: Path) -> None:
    """`analyze` alone reads a run's judge output: refuse a run directory without it, creating nothing.

    A mistyped `--run-dir` would otherwise be created (and locked) only to fail on the missing stage.
    """
    if rundir.finished("judge"):
        return
    what = "does not exist" if not rundir.root.exists() else "has no finished judge stage"
    raise StageError(
        f"analyze: the run directory {rundir.root} {what}, so there are no verdicts to analyse; nothing was "
        f"created. Check --run-dir (or the config's run_dir), run the stages before it with `warmray run "
        f"{config}`, or analyse verdict files with `warmray analyze --from PATH... --out DIR`."
    )


def _before_any_stage(config: ExperimentConfig, decisions: list[Decision], session: Session) -> None:
    """Ask the endpoints the stages about to run will use (before Ray starts), then say what each does."""
    from warmray.preflight import check_run_endpoints

    check_run_endpoints(config, [d.stage for d in decisions if d.action != "skip"])
    session.announce(decisions)


def _print_summary(session: Session, config: ExperimentConfig) -> None:
    """The error-rate table of the verdicts the analysis reads, and where the outputs are."""
    from warmray.report import config_info, verdict_table
    from warmray.stages.analyze import error_summary, format_summary, load_verdict_files

    rundir, say = session.rundir, session.console.say
    assert rundir is not None
    verdicts = verdict_table(config)
    say("\n" + format_summary(error_summary(load_verdict_files([rundir.table("judge", verdicts)]))))
    if rundir.finished("analyze"):
        report = rundir.stage("analyze")
        _say_caveats(session, config_info(config), report / "tables")
        say(f"\nreport:   {report / 'report.md'}\n          {report / 'report.html'}")
    for stage, table in (("grid", "prompts"), ("generate", "responses"), ("judge", verdicts)):
        if rundir.table(stage, table).exists():
            say(f"tables:   {rundir.table(stage, table)}")
    say(importlib.import_module("warmray.inspect_logs").run_summary_line(rundir.root, config))
    if session.console.warnings:
        say(f"\n{session.console.warnings} warning(s) were logged; see {rundir.root / 'logs'}")


def _analyze_files(args: argparse.Namespace, session: Session) -> int:
    from warmray.config import AnalyzeConfig, JudgeConfig
    from warmray.report import files_info
    from warmray.stages.analyze import analyze, load_verdict_files

    if not args.out:
        raise ConfigError("analyze --from needs --out DIR, the folder for the report.")
    full = load_config(args.config, args.overrides) if args.config else None
    cfg = full.analyze if full else AnalyzeConfig()
    rule = args.refusal_rule or (full.judge.refusal_rule if full else JudgeConfig().refusal_rule)
    verdicts = load_verdict_files(list(args.sources), rule, args.rederive_refusals)
    session.console.say(f"read {verdicts.attrs['read']}")
    # What the sources' own reports knew: input files, grader, a run directory's models and judge.
    info = files_info(verdicts, list(args.sources))
    if args.rederive_refusals or verdicts.attrs.get("refusals_derived", 0):
        info.pop("refusal_rule", None)  # the flags are (partly) derived here, by `rule`
    info |= {
        "refusals_derived": verdicts.attrs.get("refusals_derived", 0),
        "derive_refusal_rule": rule,
        "refusals_rederived": bool(args.rederive_refusals),
    }
    analyze(verdicts, args.out, config=cfg, run_info=info)
    _say_caveats(session, info, args.out / "tables")
    session.console.say(f"report: {args.out / 'report.md'}  {args.out / 'report.html'}")
    return 0


def _say_caveats(session: Session, info: dict, tables: Path) -> None:
    """The report's caveats and headline effects with their n, under the terminal's summary."""
    import pandas as pd

    from warmray.report import terminal_lines

    effects = tables / "glm_effects.csv"
    lines = terminal_lines(info, pd.read_csv(effects) if effects.is_file() else pd.DataFrame())
    if lines:
        session.console.say("\n" + "\n".join(lines))


def _interrupted(signum: int, _frame: object) -> None:
    # SIGTERM (a scheduler, `kill`) ends the command like Ctrl-C: engines and Ray are shut down on the way.
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `warmray` and `python -m warmray`."""
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    args = _parser(command).parse_args(argv)
    session = Session(getattr(args, "verbose", False))
    signal.signal(signal.SIGTERM, _interrupted)
    log_hint = ""
    try:
        processes.reap()  # what an earlier command killed with SIGKILL left running
        with processes.tracked(argv):  # every process this command starts ends with it
            if getattr(args, "tool", None):
                args.console = session.console  # one terminal: its progress lines and the tool's lines
                return int(importlib.import_module(args.tool).command(args))
            return _run_stages(args, session)
    except UserError as e:
        # An explained error that wraps a library's exception (Ray's start) keeps that one in the log.
        log_file = _keep_traceback(session) if e.__cause__ is not None else session.console.log_file
        log_hint = f"\n  (log: {log_file})" if log_file else ""
        session.console.error(f"warmray: {e}{log_hint}")
        return 2
    except (KeyboardInterrupt, SystemExit) as e:
        # Ray's own SIGTERM handler (re-installed by some of its code paths) exits with the signal number;
        # the `finally` blocks have stopped the engines and Ray either way.
        if isinstance(e, SystemExit) and e.code != signal.SIGTERM:
            raise
        session.console.error(
            "warmray: interrupted; engines and Ray were stopped. Run the same command again to resume "
            "from the rows already written."
        )
        return 130
    except Exception as e:
        if explained := explain_outside(e, _stage_of(session.console.log_file)):
            # Trouble from outside (network, hub, disk, data): one paragraph; the details in the log.
            log_file = _keep_traceback(session)
            session.console.error(f"warmray: {explained}" + (f"\n  (log: {log_file})" if log_file else ""))
            return 2
        # a bug: show everything, so it can be reported
        session.console.error(traceback.format_exc())
        where = f" with the log {session.console.log_file}" if session.console.log_file else ""
        session.console.error(f"warmray: this is a bug in warmray; please report it{where}.")
        return 1


def _stage_of(log_file: Path | None) -> str | None:
    """The stage whose log was written last (the one running when an error came), if a stage's."""
    return log_file.stem if log_file is not None and log_file.stem in STAGE_NAMES else None


def _keep_traceback(session: Session) -> Path | None:
    """Append the current exception's traceback to the log that holds the stage's output; that log."""
    log_file = session.console.log_file
    if log_file is None and session.rundir is not None:
        log_file = session.rundir.log("errors")
    if log_file is None:
        return None
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("a") as f:
            f.write(f"\nwarmray: the error, in full:\n{traceback.format_exc()}")
    except OSError:  # a full disk or a read-only folder: the paragraph says so already
        return log_file if log_file.is_file() else None
    return log_file
