"""Ray nodes for tests, on 127.0.0.1: every listener on a free port, a private temp dir, stopped by pid.

Each node is a `ray start --block` process in its own process group; stopping it signals that group
only, so Ray instances of other tests or users on the machine are never touched (no `ray stop`).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from warmray.runtime import gcs_alive

RAY = str(Path(sys.executable).parent / "ray")
_PORT_FLAGS = (
    "node-manager-port",
    "object-manager-port",
    "ray-client-server-port",
    "dashboard-agent-listen-port",
    "dashboard-agent-grpc-port",
    "metrics-export-port",
    "runtime-env-agent-port",
)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def short_temp_dir() -> str:
    """A temp dir under /tmp: Ray's socket paths must stay under the 107-character Unix limit."""
    return tempfile.mkdtemp(prefix="wr-ray-", dir="/tmp")


@dataclass
class RayCluster:
    """A head and any worker nodes started by this test; env reaches them (token auth, RAY_TMPDIR)."""

    env: dict[str, str]
    gcs: str = ""
    dashboard: str = ""
    procs: list[subprocess.Popen] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def start_node(self, num_cpus: int, attempts: int = 5) -> None:
        """Start the head (first call) or a worker node joining it, and wait until it is up.

        `ray start` gives a raylet 30 s to register (fixed in Ray): on a loaded machine it can miss
        that, so a node that exits while starting is started again, on fresh ports.
        """
        for attempt in range(1, attempts + 1):
            proc, log, raylet_port = self._launch(num_cpus, head=not self.procs)
            if self._wait_until_up(proc, log, len(self.procs) + 1, raylet_port):
                self.procs.append(proc)
                self.logs.append(log)
                return
            assert attempt < attempts, f"`ray start` exited {attempts} times:\n{log.read_text()[-4000:]}"

    def _launch(self, num_cpus: int, head: bool) -> tuple[subprocess.Popen, Path, int]:
        """A `ray start` process, its log, and the port its raylet listens on once it is up."""
        ports = {flag: free_port() for flag in _PORT_FLAGS}
        args = [RAY, "start", "--block", "--node-ip-address=127.0.0.1", f"--num-cpus={num_cpus}"]
        args += [f"--{flag}={port}" for flag, port in ports.items()]
        if head:
            self.gcs = f"127.0.0.1:{free_port()}"
            self.dashboard = f"http://127.0.0.1:{free_port()}"
            port, dash = self.gcs.split(":")[1], self.dashboard.rsplit(":", 1)[1]
            args += ["--head", f"--port={port}", "--dashboard-host=127.0.0.1", f"--dashboard-port={dash}"]
            args += ["--disable-usage-stats"]
        else:
            # Its own temp dir, as on a real second machine: nodes sharing one would share (and garbage-
            # collect) each other's runtime_resources, such as the job's unpacked working dir.
            args += [f"--address={self.gcs}", f"--temp-dir={short_temp_dir()}"]
        log = Path(tempfile.mkstemp(prefix="ray-start-", suffix=".log", dir=self.env["RAY_TMPDIR"])[1])
        with log.open("w") as out:
            proc = subprocess.Popen(
                args, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        return proc, log, ports["node-manager-port"]

    def _wait_until_up(
        self, proc: subprocess.Popen, log: Path, n: int, raylet_port: int, timeout_s: float = 240
    ) -> bool:
        """True once n nodes are alive; False if this `ray start` exited first.

        Ray's state API is asked only once the new raylet listens: each `ray list` is a process that
        imports Ray (about a CPU-second), and polling it every 2 s through a node's start cost more CPU
        than the start itself on a loaded machine. A head is up only once `ray start` has recorded its
        address for drivers on this machine, which it writes after the node is already alive.
        """
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            for other, other_log in zip(self.procs, self.logs, strict=True):
                assert other.poll() is None, f"a running node exited:\n{other_log.read_text()[-4000:]}"
            if proc.poll() is not None:
                _signal_group(proc, signal.SIGKILL)  # what it started before it gave up
                return False
            listens = gcs_alive(f"127.0.0.1:{raylet_port}") and (n > 1 or self._head_recorded())
            if listens and len(self.alive_nodes()) >= n:
                return True
            time.sleep(1)
        raise AssertionError(f"{n} Ray node(s) not up after {timeout_s} s:\n{log.read_text()[-4000:]}")

    def _head_recorded(self) -> bool:
        """Whether `ray start` recorded this head's address (an earlier failed try may have left its own)."""
        recorded = Path(self.env["RAY_TMPDIR"]) / "ray" / "ray_current_cluster"
        port = self.gcs.rsplit(":", 1)[1]  # Ray records the machine's own IP for 127.0.0.1
        return recorded.is_file() and recorded.read_text().strip().endswith(f":{port}")

    def state(self, kind: str, *extra: str) -> list[dict]:
        """`ray list <kind>` from Ray's state API, as JSON rows ([] while the dashboard is not up)."""
        proc = subprocess.run(
            [RAY, "list", kind, "--address", self.dashboard, "--format", "json", "--limit", "10000", *extra],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        try:
            return json.loads(proc.stdout) if proc.returncode == 0 else []
        except json.JSONDecodeError:  # the dashboard is still starting
            return []

    def alive_nodes(self) -> list[dict]:
        """Nodes the cluster reports ALIVE."""
        return [n for n in self.state("nodes", "--detail") if n.get("state") == "ALIVE"]

    def stop(self) -> None:
        """Stop every node this cluster started: its own process groups, TERM then KILL."""
        for proc in reversed(self.procs):
            _signal_group(proc, signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
            _signal_group(proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # the group `ray start` leads (start_new_session), nothing else
    except ProcessLookupError:
        pass


def cluster_env(temp_dir: str, **extra: str) -> dict[str, str]:
    """The environment for nodes and clients: token auth, a private Ray temp dir, no inherited address.

    The token is this cluster's own: a machine without ~/.ray/auth_token (a fresh CI home) starts it too.
    """
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    # Ray's memory monitor reads the whole machine's memory: on a shared test machine other people's
    # processes would get this cluster's workers killed. Off here; the kernel's OOM killer stays.
    quiet = {"RAY_memory_monitor_refresh_ms": "0"}
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    return env | auth | {"RAY_TMPDIR": temp_dir} | quiet | extra
