"""Connecting to Ray: a local instance on a laptop, the job's cluster under `ray job submit`.

With no address configured, Ray itself would join whatever `ray start --head` last recorded in
`<ray temp dir>/ray_current_cluster`, and then refuse the local-only arguments warmray passes
("When connecting to an existing cluster, num_cpus and num_gpus must not be provided"), or hang
on a recorded cluster that has died. warmray decides first, and says which cluster it uses.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass

from warmray.config import RayConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Connection:
    """Where to run: an address to join, or None to start a local Ray; and why, for the log."""

    address: str | None
    reason: str


def normal_priority(cpu: bool) -> dict[str, str]:
    """Environment variables that start a Ray worker at a normal process's niceness, when `cpu`.

    Ray starts its workers at nice 15 so that the raylet and the driver stay responsive. On a CPU
    machine the workers doing a stage's own work (an engine, the tasks that feed it, a scorer, a training
    worker) then get a few percent of a core beside anything at nice 0, such as another run's engine, and
    the stage waits on its slowest helper (figures in warmray.infer). The variable is Ray's own
    `worker_niceness` setting, read as a worker starts. GPU work needs no change.
    """
    return {"RAY_worker_niceness": "0"} if cpu else {}


def gcs_alive(address: str, timeout_s: float = 2.0) -> bool:
    """Whether something accepts connections at a host:port GCS address."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def choose_connection(
    configured: str | None,
    environment: str | None,
    recorded: str | None,
    alive: Callable[[str], bool] = gcs_alive,
) -> Connection:
    """Join the configured or job address, else a live recorded cluster; else start a local Ray."""
    if configured:
        return Connection(configured, f"joining the Ray cluster at {configured} (ray.address)")
    if environment:
        return Connection(environment, f"joining the Ray cluster at {environment} (RAY_ADDRESS)")
    if recorded and alive(recorded):
        return Connection(
            recorded,
            f"joining the Ray cluster already running on this machine at {recorded} (recorded by "
            "`ray start`; set ray.address to choose another, or `ray stop` it to get a private one)",
        )
    if recorded:
        return Connection(
            None,
            f"the Ray cluster recorded at {recorded} is gone (nothing listens there); starting a local Ray",
        )
    return Connection(None, "starting a local Ray")


def ensure_ray(cfg: RayConfig) -> None:
    """Start or join Ray once per process (see choose_connection for which)."""
    import ray  # here, not at import time: `warmray --help` and config checks stay fast
    from ray._private.utils import read_ray_address

    if ray.is_initialized():
        return
    chosen = choose_connection(cfg.address, os.environ.get("RAY_ADDRESS"), read_ray_address())
    # ray.init replaces the driver's SIGTERM handler with one that exits at once; warmray's own (the
    # command line's) stops the engines and Ray first, so it is put back.
    on_sigterm = signal.getsignal(signal.SIGTERM)
    if chosen.address:
        log.info("%s", chosen.reason)
        ray.init(address=chosen.address, log_to_driver=True)
    else:
        log.info("%s with %s logical CPUs", chosen.reason, cfg.num_cpus)
        # "local": a new private instance, never the recorded one (Ray's default for address=None).
        ray.init(address="local", num_cpus=cfg.num_cpus, include_dashboard=False, log_to_driver=True)
    if callable(on_sigterm):
        signal.signal(signal.SIGTERM, on_sigterm)
    configure_data(cfg, progress_bars=True)


def configure_data(cfg: RayConfig, *, progress_bars: bool) -> None:
    """This process's Ray Data settings: the stall timeout, and whether it reports its own progress.

    A driver's reports are lines in the stage's log. A Tune trial's process (a Ray worker) would draw
    tqdm bars, which reach the sweep's log as redraws: 40,000 lines for two tiny trials.
    """
    import ray

    data = ray.data.DataContext.get_current()
    data.enable_progress_bars = progress_bars
    data.execution_no_progress_timeout_s = cfg.stall_timeout_s
