"""The Tuner: trials of warmray.sweep.trial.run_trial over the sweep's space, resumable.

Tune's state lives in `SWEEP/tune/`; when it is there, the Tuner is restored from it (finished trials
keep their results, interrupted or failed ones run again). Trial folders are named by their values, not
by Tune's random ids, so a fresh Tuner finds finished work too.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pandas as pd

from warmray.config import ExperimentConfig
from warmray.errors import UserError
from warmray.sweep.space import param_space, trial_name
from warmray.sweep.trial import run_trial

log = logging.getLogger(__name__)

TUNE_NAME = "tune"
IDENTITY_FILE = "sweep_config.json"


class SweepChangedError(UserError):
    """The config no longer matches the sweep found in the run directory."""


def check_identity(config: ExperimentConfig, sweep_dir: Path) -> None:
    """A restored Tuner keeps its old search space: refuse to restore a sweep whose config changed.

    How requests are sent (ExperimentConfig.identity_hash) is no change; a sweep recorded with the older
    hash (ExperimentConfig.identity_hashes) is restored when nothing else changed.
    """
    identities = config.identity_hashes()
    path = sweep_dir / IDENTITY_FILE
    if path.is_file() and json.loads(path.read_text())["config_hash"] not in identities:
        raise SweepChangedError(
            f"{sweep_dir} holds a sweep made with a different config; use a new --run-dir for this one."
        )
    sweep_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"config_hash": identities[0]}))


def _searcher(config: ExperimentConfig, concurrent: int) -> Any:
    from ray.tune.search import BasicVariantGenerator

    if config.sweep.search != "optuna":
        # Tune's max_concurrent_trials is ignored for a generator passed in: it takes the limit itself.
        return BasicVariantGenerator(random_state=config.seed, max_concurrent=concurrent)
    try:
        from ray.tune.search.optuna import OptunaSearch
    except ImportError as e:  # optuna is an optional dependency
        raise RuntimeError("sweep.search: optuna needs `pip install optuna`") from e

    class FinalResultOptuna(OptunaSearch):
        """Optuna fed only the trial's final result: Ray Train's loss reports lack the objective."""

        def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
            if self.metric in result:
                super().on_trial_result(trial_id, result)

    # Tune checks every report for the searcher's metric; the training reports come first, without it.
    os.environ["TUNE_DISABLE_STRICT_METRIC_CHECKING"] = "1"
    return FinalResultOptuna(metric=config.sweep.objective, mode="min", seed=config.seed)


def _tuner(config: ExperimentConfig, sweep_dir: Path, concurrent: int) -> Any:
    from ray import tune

    trainable = tune.with_parameters(
        run_trial, config_json=config.model_dump_json(), sweep_dir=str(sweep_dir)
    )
    path = sweep_dir / TUNE_NAME
    if tune.Tuner.can_restore(str(path)):
        log.info("sweep: restoring the interrupted sweep in %s", path)
        return tune.Tuner.restore(str(path), trainable=trainable, resume_errored=True)
    return tune.Tuner(
        trainable,
        param_space=param_space(config),
        tune_config=tune.TuneConfig(
            search_alg=_searcher(config, concurrent),
            num_samples=config.sweep.num_samples,
            max_concurrent_trials=concurrent,
            trial_name_creator=lambda t: trial_name(t.config),
            trial_dirname_creator=lambda t: trial_name(t.config),
        ),
        run_config=tune.RunConfig(name=TUNE_NAME, storage_path=str(sweep_dir)),
    )


def fit_trials(config: ExperimentConfig, sweep_dir: Path, concurrent: int) -> pd.DataFrame:
    """Run (or finish) every trial; one row per trial that finished, failures logged."""
    check_identity(config, sweep_dir)
    results = _tuner(config, sweep_dir, concurrent).fit()
    rows = []
    for result in results:
        if result.error is not None:
            log.error("sweep: a trial failed: %s", result.error)
        elif "error_rate" not in result.metrics:  # stopped after training, before its final report
            log.error("sweep: trial %s did not finish; rerun the sweep to finish it", result.config)
        else:
            rows.append(result.metrics)
    if not rows:
        raise RuntimeError(f"sweep: no trial finished; see Tune's logs in {sweep_dir / TUNE_NAME}")
    keep = [c for c in rows[0] if c in _COLUMNS]
    return pd.DataFrame(rows)[keep].drop_duplicates("trial").reset_index(drop=True)


_COLUMNS = (
    "trial",
    "checkpoint_epoch",
    "learning_rate",
    "lora_r",
    "warm_fraction",
    "rewrite_intensity",
    "system_prompt",
    "warmth",
    "warmth_low",
    "warmth_high",
    "n_warmth",
    "error_rate",
    "error_low",
    "error_high",
    "n_graded",
    "sycophancy_rate",
    "sycophancy_low",
    "sycophancy_high",
    "n_wrong_belief",
)
