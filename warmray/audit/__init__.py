"""`warmray audit TARGET...`: a reliability and sycophancy profile card of models or endpoints.

The study's grid, generation, judging and analysis, without training, for the targets side by side:

    warmray audit builtin:smollm2-135m --data-dir /path/to/data
    warmray audit ./my-model ./my-model+./persona-lora https://api.example.com/v1#vendor-model
        --api-key-env VENDOR_KEY --judge https://api.example.com/v1#judge-model --items 100

The CLI wires `add_arguments` into its `audit` sub-command and calls `command(args)`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from warmray.audit.experiment import (
    DEFAULT_BUDGET_MIN,
    STUDY_TASKS,
    AuditRequest,
    audit_run_dir,
    build_config,
    offline_fallback,
)
from warmray.audit.targets import TARGET_HELP, parse_target, unique_names
from warmray.config import add_overrides_argument
from warmray.console import add_retry_failed_argument, add_verbose_argument, of_command
from warmray.errors import UserError

__all__ = ["add_arguments", "command"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The audit's arguments, on the parser of its sub-command."""
    parser.add_argument("targets", nargs="+", metavar="TARGET", help=TARGET_HELP)
    parser.add_argument(
        "--judge",
        default="reference",
        metavar="MODEL|URL",
        help="'reference' (answer matching, the default), a model like a TARGET, or URL#model",
    )
    parser.add_argument(
        "--tasks", nargs="+", choices=(*STUDY_TASKS, "demo"), help="default: the four study tasks"
    )
    parser.add_argument(
        "--items",
        type=int,
        help="items per task (default: what --budget-minutes allows on this device)",
    )
    parser.add_argument(
        "--budget-minutes", type=float, default=DEFAULT_BUDGET_MIN, help="time budget for --items"
    )
    parser.add_argument(
        "--system-prompt", type=Path, metavar="FILE", help="also audit every target under this system prompt"
    )
    parser.add_argument(
        "--data-dir", type=Path, help="benchmarks from a folder laid out like the published sets"
    )
    parser.add_argument("--run-dir", type=Path, help="default: runs/audit-<hash of what is audited>")
    parser.add_argument(
        "--config", type=Path, help="experiment YAML for everything else (engines, sampling, Ray)"
    )
    parser.add_argument(
        "--api-key-env",
        default="OPENAI_API_KEY",
        metavar="VAR",
        help="variable holding the endpoint targets' key",
    )
    parser.add_argument("--judge-key-env", metavar="VAR", help="variable holding the judge endpoint's key")
    add_overrides_argument(parser, "generate.sampling.max_tokens=64")
    add_retry_failed_argument(parser)
    parser.add_argument(
        "--no-offline-fallback",
        dest="offline_fallback_off",
        action="store_true",
        help="fail instead of auditing built-in models on the built-in items when the Hub cannot be reached",
    )
    add_verbose_argument(parser)


def command(args: argparse.Namespace) -> int:
    """Run an audit; 0 when the card was written, 2 for a problem it explains (target, config, stage).

    Stage lines and the card's paths go to the terminal; Ray's and vLLM's output to RUN_DIR/logs/ (all
    of it on the terminal with --verbose).
    """
    from warmray.audit.run import run_audit  # here: parsing arguments must not import Ray or pandas

    console = of_command(args)
    try:
        targets = [parse_target(t, args.api_key_env) for t in args.targets]
        judge = None
        if args.judge != "reference":
            judge = parse_target(args.judge, args.judge_key_env or args.api_key_env)
        req = AuditRequest(
            targets=tuple(targets),
            names=tuple(unique_names(targets)),
            judge=judge,
            tasks=tuple(args.tasks) if args.tasks else None,
            items=args.items,
            system_prompt=args.system_prompt,
            data_dir=args.data_dir,
            config=args.config,
            budget_min=args.budget_minutes,
            overrides=tuple(getattr(args, "overrides", None) or ()),
        )
        if not args.offline_fallback_off:
            from warmray.preflight import hub_problem

            req, offline = offline_fallback(req, hub_problem)
            if offline:
                console.say(f"warmray audit: {offline}")
        config = build_config(req)
        run_dir = args.run_dir or audit_run_dir(config)
        paths = run_audit(req, config, run_dir, console, retry_failed=args.retry_failed)
    except UserError as e:  # a bad target, config, unreachable endpoint, a stage that cannot run
        log_hint = f"\n  (log: {console.log_file})" if console.log_file else ""
        console.error(f"warmray audit: {e}{log_hint}")
        return 2
    console.say(f"card: {paths['html']}\n      {paths['md']}\n      {paths['json']}")
    from warmray.inspect_logs import run_summary_line

    console.say(run_summary_line(run_dir, config))  # the audit's samples for `inspect view`
    return 0
