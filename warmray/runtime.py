"""Connecting to Ray: a local instance on a laptop, the job's cluster under `ray job submit`."""

from __future__ import annotations

import logging
import os

from warmray.config import RayConfig

log = logging.getLogger(__name__)


def ensure_ray(cfg: RayConfig) -> None:
    """Start or join Ray once per process.

    Under `ray job submit` (RAY_ADDRESS is set) or with `ray.address` in the config, join that cluster;
    otherwise start a local Ray with `ray.num_cpus` logical CPUs.
    """
    import ray  # here, not at import time: `warmray --help` and config checks stay fast

    if ray.is_initialized():
        return
    address = cfg.address or os.environ.get("RAY_ADDRESS")
    if address:
        log.info("joining the Ray cluster at %s", address)
        ray.init(address=address, log_to_driver=True)
    else:
        log.info("starting a local Ray with %s logical CPUs", cfg.num_cpus)
        ray.init(num_cpus=cfg.num_cpus, include_dashboard=False, log_to_driver=True)
    data = ray.data.DataContext.get_current()
    data.enable_progress_bars = True
    data.execution_no_progress_timeout_s = cfg.stall_timeout_s
