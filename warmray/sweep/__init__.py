"""`warmray sweep CONFIG`: Ray Tune over warmth strength, and the warmth-reliability frontier it finds.

    warmray sweep configs/sweep.yaml --run-dir runs/sweep

Each trial (a point of `sweep:` in the config, warmray.sweep.space) trains a LoRA adapter with Ray Train
inside a Tune function, then answers a fixed slice (the grid cut to sweep.eval_items per task, and
sweep.val_prompts held-out prompts), judges it and scores SocioT warmth (warmray.sweep.evaluate). The
original model is scored on the same slice once, as the reference point. Output in RUN_DIR/sweep/:
`trials.parquet` (one row per trial: its values, warmth, error and sycophancy rates with 95% intervals,
Pareto flag), `frontier.png`, `report.md`; `tune/` is Tune's own state, so rerunning an interrupted sweep
restores it (`Tuner.restore`) and finished trials are not run again.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from warmray.config import add_overrides_argument
from warmray.console import add_verbose_argument, of_command, stop_ray
from warmray.rundir import RunDir

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments."""
    parser.add_argument(
        "config", type=Path, help="experiment YAML with a `sweep:` section (configs/sweep.yaml)"
    )
    parser.add_argument("--run-dir", type=Path, help="where the sweep goes (default: the config's run_dir)")
    add_overrides_argument(parser, "sweep.num_samples=4")
    add_verbose_argument(parser)


def command(args: argparse.Namespace) -> int:
    """Run the sweep; print where its trials table, plot and report are."""
    from warmray.config import ConfigError, load_config

    console = of_command(args)
    try:
        config = load_config(args.config, getattr(args, "overrides", ()))
    except ConfigError as e:
        console.error(f"warmray sweep: {e}")
        return 2
    run_dir = (args.run_dir or Path(config.run_dir)).expanduser().resolve()
    log_file = run_dir / "sweep" / "logs" / "sweep.log"
    console.say(f"warmray sweep {args.config}: Ray's, Tune's and vLLM's output in {log_file}")
    # The run directory's lock, as every command that writes one holds it: a second sweep on the same
    # directory would resume the first one's live trials (RunDirBusy, exit 2, names the holder).
    with RunDir(run_dir).locked():
        try:
            folder = run_sweep(config, run_dir, console.say, lambda: console.capture(log_file))
        finally:
            stop_ray(console, log_file)
    for name in ("trials.parquet", "frontier.png", "report.md"):
        console.say(f"sweep: {folder / name}")
    return 0


def _original(config: Any, sweep_dir: Path, intensity: str) -> dict[str, float]:
    """The original model scored on the slice (once; kept in sweep/original/metrics.json)."""
    from warmray.config import ExperimentConfig
    from warmray.stage import StageContext
    from warmray.sweep.evaluate import evaluate
    from warmray.sweep.space import base_config
    from warmray.sweep.trial import METRICS_FILE, base_dir, link_shared

    folder = sweep_dir / "original"
    if (folder / METRICS_FILE).is_file():
        return json.loads((folder / METRICS_FILE).read_text())
    data = base_config(config, intensity).model_dump(mode="json")
    data["generate"]["variants"] = ["original"]
    link_shared(base_dir(sweep_dir, intensity), folder, ("corpus", "grid"))
    metrics = evaluate(StageContext(ExperimentConfig.model_validate(data), folder), folder / "eval")
    (folder / METRICS_FILE).write_text(json.dumps(metrics, indent=2))
    return metrics


def concurrent_trials(config: Any) -> int:
    """sweep.max_concurrent_trials, else as many trials as the cluster holds at once.

    A trial holds its Tune function (1 CPU), its Ray Train workers and, while it evaluates, one engine
    and Ray Data's tokenizer stages: on CPUs workers + 3, on GPUs its workers' GPUs.
    """
    import ray

    from warmray.sweep.space import swept_model

    if config.sweep.max_concurrent_trials:
        return config.sweep.max_concurrent_trials
    workers = config.train.for_model(swept_model(config)).num_workers
    resources = ray.cluster_resources()
    if config.device == "gpu":
        return max(1, int(resources.get("GPU", 0)) // workers)
    return max(1, int(resources.get("CPU", 1)) // (workers + 3))


def run_sweep(
    config: Any,
    run_dir: Path,
    say: Callable[[str], None] = print,
    quiet: Callable[[], AbstractContextManager[None]] = nullcontext,
) -> Path:
    """Shared stages, the original model, the Tune trials, then the frontier; returns RUN_DIR/sweep.

    `say` prints a line per phase; each phase runs inside `quiet()` (where the command sends Ray's,
    Tune's and vLLM's output to the sweep's log).
    """
    from warmray.pipeline import run_pipeline
    from warmray.runtime import ensure_ray
    from warmray.sweep.frontier import write_outputs
    from warmray.sweep.space import axis_values, base_config
    from warmray.sweep.trial import SHARED_STAGES, base_dir
    from warmray.sweep.tuning import fit_trials

    started = time.time()
    sweep_dir = run_dir / "sweep"
    intensities = axis_values(config)["rewrite_intensity"]

    def phase(what: str) -> None:
        say(f"  {time.time() - started:5.0f}s  {what}")

    for intensity in intensities:
        phase(f"shared stages ({', '.join(SHARED_STAGES)}), rewrite intensity {intensity}")
        with quiet():
            run_pipeline(base_config(config, intensity), base_dir(sweep_dir, intensity), SHARED_STAGES)
    phase("the original model on the slice")
    with quiet():
        ensure_ray(config.ray)
        original = _original(config, sweep_dir, intensities[0])
        concurrent = concurrent_trials(config)
    phase(f"the trials, {concurrent} at a time (Ray Tune; each trains, answers, grades, scores warmth)")
    with quiet():
        trials = fit_trials(config, sweep_dir, concurrent)
        write_outputs(trials, original, sweep_dir, time.time() - started)
    phase(f"{len(trials)} trials finished; frontier written")
    return sweep_dir
