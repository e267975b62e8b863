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
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from warmray import compat
from warmray.config import RayConfig
from warmray.errors import UserError

log = logging.getLogger(__name__)
_LOCAL_START_TRIES = 2


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
    the stage waits on its slowest helper (warmray.infer says how much). The variable is Ray's own
    `worker_niceness` setting, read as a worker starts (warmray.compat). GPU work needs no change.
    """
    return compat.normal_niceness_env() if cpu else {}


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


class RayStartError(UserError, RuntimeError):
    """Ray could not be started or joined; the message says which, what failed and what to try."""


def gcs_address(address: str) -> str | None:
    """The host:port a Ray address reaches its cluster's GCS at, or None when it names no such port.

    `ray://` (Ray Client) and `http(s)://` (the dashboard) addresses, `auto` and `local` are left to Ray.
    """
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit() or not host:
        return None
    return address


def unreachable_problem(chosen: Connection, alive: Callable[[str], bool] = gcs_alive) -> str | None:
    """Why joining `chosen` would hang, or None: nothing listens at the address it joins (pure but `alive`).

    Ray itself retries a dead GCS address for minutes with nothing on the terminal (a stale RAY_ADDRESS
    from an earlier job hung a command for over six minutes); one bounded connection attempt says it now.
    """
    gcs = gcs_address(chosen.address) if chosen.address else None
    if gcs is None or alive(gcs):
        return None
    return (
        f"cannot join Ray: {chosen.reason.removeprefix('joining ')}, but nothing answers at {gcs}. The "
        "cluster has stopped or the address is stale: start it (`ray start --head`), fix ray.address, or "
        "unset RAY_ADDRESS (`unset RAY_ADDRESS`) to let warmray start a Ray of its own."
    )


def token_auth_env(environ: dict[str, str] | os._Environ[str], token_file: Path) -> dict[str, str]:
    """The variables to set so that joining a `ray start` cluster passes Ray's token authentication.

    Ray 2.60 turns token authentication on for clusters started with `ray start --head` and writes the
    token to ~/.ray/auth_token, but a driver reads it only with RAY_AUTH_MODE=token. Nothing is set when
    the user chose a mode, or gave a token, or there is no token file.
    """
    if environ.get("RAY_AUTH_MODE") or environ.get("RAY_AUTH_TOKEN") or not token_file.is_file():
        return {}
    return {"RAY_AUTH_MODE": "token"}


def ray_temp_dir() -> str:
    """Where a local Ray keeps its sessions and logs (RAY_TMPDIR, else /tmp, then ray/)."""
    return os.path.join(os.environ.get("RAY_TMPDIR", "/tmp"), "ray")


def start_failure(chosen: Connection, error: BaseException, load: tuple[float, int] | None = None) -> str:
    """The paragraph for a Ray that did not start or could not be joined (pure).

    `load` is the machine's (1-minute load average, CPUs) when Ray failed, said when the machine is busy.
    """
    first = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
    if chosen.address is None:
        busy = f" (load average {load[0]:.1f} on {load[1]} CPUs)" if load and load[0] > load[1] else ""
        return (
            f"Ray did not start on this machine ({type(error).__name__}: {first}). This is the machine"
            f"{busy}, not warmray: a loaded machine can make Ray's raylet miss its start-up deadline "
            "(warmray tried twice), and a full /tmp or a leftover Ray can stop it. Run the same command "
            "again when the load is lower, check `df -h /tmp` and `ray status`, or start Ray yourself "
            "(`ray start --head`) and set ray.address. "
            f"Ray's own logs: {ray_temp_dir()}/session_latest/logs."
        )
    if compat.NO_LOCAL_NODE in first:
        return (
            f"could not join the Ray cluster at {chosen.address} ({type(error).__name__}: {first}). Its head "
            "answers, but no live Ray node of that cluster runs on this machine: its raylet has died "
            "(killed, out of memory, or stopped on its own) while the head stayed up, and a driver joins a "
            "cluster only through a node on its own machine. Restart the cluster (`ray stop`, then `ray "
            "start --head`), or `ray stop` it to let warmray start a private Ray; the raylet's own log says "
            f"why it ended: {ray_temp_dir()}/session_latest/logs/raylet.out."
        )
    auth = ""
    if "auth" in first.lower() or "token" in first.lower():
        auth = (
            " It asks for Ray's token: set RAY_AUTH_MODE=token (the token is read from ~/.ray/auth_token) "
            "or RAY_AUTH_TOKEN."
        )
    return (
        f"could not join the Ray cluster at {chosen.address} ({type(error).__name__}: {first}). Its head "
        f"answers, but the cluster may be half-stopped (a raylet that died) or refuse this driver.{auth} "
        "Check it with `ray status`; `ray stop` and `ray start --head` again, set ray.address to another "
        "cluster, or `ray stop` it to let warmray start a private Ray."
    )


def ensure_ray(cfg: RayConfig) -> None:
    """Start or join Ray once per process (see choose_connection for which).

    Raises:
        RayStartError: the address to join answers nothing, or Ray failed to start or join (its reason
            and what to try in the message).
    """
    import ray  # here, not at import time: `warmray --help` and config checks stay fast

    if ray.is_initialized():
        return
    chosen = choose_connection(cfg.address, os.environ.get("RAY_ADDRESS"), compat.recorded_ray_address())
    if problem := unreachable_problem(chosen):
        raise RayStartError(problem)
    # ray.init replaces the driver's SIGTERM handler with one that exits at once; warmray's own (the
    # command line's) stops the engines and Ray first, so it is put back.
    on_sigterm = signal.getsignal(signal.SIGTERM)
    try:
        if chosen.address:
            log.info("%s", chosen.reason)
            for name, value in token_auth_env(os.environ, Path.home() / ".ray" / "auth_token").items():
                log.info("%s=%s: the cluster's token is in ~/.ray/auth_token", name, value)
                os.environ[name] = value
            ray.init(address=chosen.address, log_to_driver=True)
        else:
            log.info("%s with %s logical CPUs", chosen.reason, cfg.num_cpus)
            _start_local(cfg.num_cpus)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # ray.init raises bare Exception, RuntimeError, ConnectionError, TimeoutError
        raise RayStartError(start_failure(chosen, e, (os.getloadavg()[0], os.cpu_count() or 1))) from e
    if callable(on_sigterm):
        signal.signal(signal.SIGTERM, on_sigterm)
    configure_data(cfg, progress_bars=True)


def _start_local(num_cpus: int, tries: int = _LOCAL_START_TRIES) -> None:
    """Start a private Ray, trying again when it failed to come up (as a loaded machine makes it).

    Ray gives its raylet a fixed 30 s to register (Ray 2.60, not configurable); on a 2-core machine
    under load it missed that deadline, and the next try a few seconds later came up.
    """
    import ray

    for attempt in range(1, tries + 1):
        before = _children()
        try:
            # "local": a new private instance, never the recorded one (Ray's default for address=None).
            ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, log_to_driver=True)
            return
        except Exception as e:
            ray.shutdown()
            _end_new_children(before)  # the failed start's GCS server, which Ray leaves running
            if attempt == tries:
                raise
            log.warning("Ray did not start (%s); trying again (%d of %d)", e, attempt + 1, tries)
            time.sleep(5)


def _children() -> set[int]:
    """The process ids of this process's descendants (empty without psutil)."""
    try:
        import psutil

        return {c.pid for c in psutil.Process().children(recursive=True)}
    except Exception:
        return set()


def _end_new_children(before: set[int]) -> None:
    """End the descendants of this process that were not there `before` (a failed Ray start's processes).

    Only processes this command started since, by process id: never another command's, never by name.
    """
    try:
        import psutil

        new = [c for c in psutil.Process().children(recursive=True) if c.pid not in before]
        for child in new:
            child.kill()
        psutil.wait_procs(new, timeout=10)
    except Exception as e:  # best effort: the command goes on either way
        log.info("could not end what the failed Ray start left (%s)", e)


def configure_data(cfg: RayConfig, *, progress_bars: bool) -> None:
    """This process's Ray Data settings: the stall timeout, and whether it reports its own progress.

    A driver's reports are lines in the stage's log. A Tune trial's process (a Ray worker) would draw
    tqdm bars, which reach the sweep's log as redraws: 40,000 lines for two tiny trials.
    """
    import ray

    data = ray.data.DataContext.get_current()
    data.enable_progress_bars = progress_bars
    data.execution_no_progress_timeout_s = cfg.stall_timeout_s
