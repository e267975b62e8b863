"""Ray nodes for tests, on 127.0.0.1: every listener on a free port, a private temp dir, stopped by pid.

Each node is a `ray start --block` process in its own process group; stopping it signals that group
only, so Ray instances of other tests or users on the machine are never touched (no `ray stop`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

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

    def start_node(self, num_cpus: int, resources: dict[str, float] | None = None) -> None:
        """Start the head (first call) or a worker node joining it, and wait until it is up."""
        args = [RAY, "start", "--block", "--node-ip-address=127.0.0.1", f"--num-cpus={num_cpus}"]
        args += [f"--{flag}={free_port()}" for flag in _PORT_FLAGS]
        if resources:
            args.append("--resources=" + json.dumps(resources))
        head = not self.procs
        if head:
            self.gcs = f"127.0.0.1:{free_port()}"
            self.dashboard = f"http://127.0.0.1:{free_port()}"
            port, dash = self.gcs.split(":")[1], self.dashboard.rsplit(":", 1)[1]
            args += ["--head", f"--port={port}", "--dashboard-host=127.0.0.1", f"--dashboard-port={dash}"]
            args += ["--disable-usage-stats"]
        else:
            args.append(f"--address={self.gcs}")
        log = Path(self.env["RAY_TMPDIR"]) / f"ray-start-{len(self.procs)}.log"
        out = log.open("w")
        self.procs.append(
            subprocess.Popen(args, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        )
        self.logs.append(log)
        self._wait_for_nodes(len(self.procs))

    def _wait_for_nodes(self, n: int, timeout_s: float = 180) -> None:
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            for proc, log in zip(self.procs, self.logs, strict=True):
                assert proc.poll() is None, f"`ray start` exited:\n{log.read_text()[-4000:]}"
            if len(self.alive_nodes()) >= n:
                return
            time.sleep(2)
        raise AssertionError(
            f"{n} Ray node(s) not up after {timeout_s} s:\n{self.logs[-1].read_text()[-4000:]}"
        )

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
    """The environment for nodes and clients: token auth, a private Ray temp dir, no inherited address."""
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    return env | {"RAY_AUTH_MODE": "token", "RAY_TMPDIR": temp_dir} | extra
