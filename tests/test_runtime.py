"""Joining Ray: a configured or job address, a live `ray start` cluster on this machine, or a private Ray.

The real-cluster tests run warmray in a subprocess with its own RAY_TMPDIR, where Ray records (and
looks up) the address of the last `ray start`, so no other Ray on the machine is seen or touched.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from e2e.ray_nodes import RayCluster, cluster_env, free_port, short_temp_dir

from warmray.runtime import choose_connection, start_failure, token_auth_env, unreachable_problem

ROOT = Path(__file__).resolve().parents[1]
_SCRIPT = """
import logging, ray
from warmray.config import RayConfig
from warmray.runtime import ensure_ray
logging.basicConfig(level=logging.INFO, format="%(message)s")
ensure_ray(RayConfig(num_cpus=2))
print("GCS", ray.get_runtime_context().gcs_address, "NODES", len(ray.nodes()))
"""


def _warmray_joins(env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT], env=env, capture_output=True, text=True, timeout=300, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def test_a_configured_address_wins_then_the_job_address():
    never = lambda _: pytest.fail("a recorded address must not be probed")  # noqa: E731
    assert (
        choose_connection("10.0.0.1:6379", "10.0.0.2:6379", "127.0.0.1:1", never).address == "10.0.0.1:6379"
    )
    chosen = choose_connection(None, "10.0.0.2:6379", "127.0.0.1:1", never)
    assert chosen.address == "10.0.0.2:6379" and "RAY_ADDRESS" in chosen.reason


def test_a_live_recorded_cluster_is_joined_and_named():
    chosen = choose_connection(None, None, "127.0.0.1:6379", lambda a: True)
    assert chosen.address == "127.0.0.1:6379"
    assert "already running on this machine at 127.0.0.1:6379" in chosen.reason


def test_a_dead_recorded_cluster_means_a_private_ray():
    chosen = choose_connection(None, None, "127.0.0.1:6379", lambda a: False)
    assert chosen.address is None and "is gone" in chosen.reason
    assert choose_connection(None, None, None).address is None


@pytest.mark.cluster
def test_warmray_joins_a_cluster_started_with_ray_start_without_local_only_arguments():
    cluster = RayCluster(cluster_env(short_temp_dir()))
    try:
        cluster.start_node(num_cpus=2)
        proc = _warmray_joins(cluster.env)
    finally:
        cluster.stop()
    port = cluster.gcs.rsplit(":", 1)[1]  # Ray records the machine's own IP for 127.0.0.1
    assert re.search(rf"joining the Ray cluster already running on this machine at \S+:{port} ", proc.stderr)
    assert re.search(rf"GCS \S+:{port} NODES 1", proc.stdout)


@pytest.mark.cluster
def test_warmray_starts_its_own_ray_when_the_recorded_cluster_is_gone():
    temp = short_temp_dir()
    stale = f"127.0.0.1:{free_port()}"  # a cluster that died: its address file stayed behind
    (Path(temp) / "ray").mkdir()
    (Path(temp) / "ray" / "ray_current_cluster").write_text(stale)
    proc = _warmray_joins(cluster_env(temp))
    assert f"the Ray cluster recorded at {stale} is gone" in proc.stderr
    assert "starting a local Ray with 2 logical CPUs" in proc.stderr
    assert f"GCS {stale}" not in proc.stdout and "NODES 1" in proc.stdout


def test_a_stale_address_is_named_at_once_with_what_to_do():
    chosen = choose_connection(None, "127.0.0.1:6399", None)
    problem = unreachable_problem(chosen, alive=lambda a: False)
    assert problem is not None and "127.0.0.1:6399" in problem and "unset RAY_ADDRESS" in problem
    assert unreachable_problem(chosen, alive=lambda a: True) is None
    client = choose_connection("ray://head:10001", None, None)  # Ray Client: left to Ray
    assert unreachable_problem(client, alive=lambda a: pytest.fail("not probed")) is None


def test_joining_a_ray_start_cluster_reads_its_token_unless_the_user_chose(tmp_path):
    token = tmp_path / "auth_token"
    assert token_auth_env({}, token) == {}  # no token file
    token.write_text("secret")
    assert token_auth_env({}, token) == {"RAY_AUTH_MODE": "token"}
    assert token_auth_env({"RAY_AUTH_MODE": "disabled"}, token) == {}
    assert token_auth_env({"RAY_AUTH_TOKEN": "x"}, token) == {}


def test_a_join_refused_for_its_token_says_how_to_give_it():
    chosen = choose_connection("10.0.0.1:6379", None, None)
    text = start_failure(chosen, RuntimeError("Missing authentication token"))
    assert "RAY_AUTH_MODE=token" in text and "10.0.0.1:6379" in text
    local = start_failure(choose_connection(None, None, None), TimeoutError("raylet"), (27.9, 2))
    assert "Ray did not start" in local and "ray start --head" in local and "load average 27.9 on 2" in local


def test_a_recorded_cluster_whose_raylet_died_is_one_explained_paragraph_exit_2(
    tmp_path, monkeypatch, capsys
):
    import ray

    from warmray import cli

    head = socket.socket()  # the cluster's head still answers: a GCS port that accepts connections
    head.bind(("127.0.0.1", 0))
    head.listen()
    address = f"127.0.0.1:{head.getsockname()[1]}"
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "ray_current_cluster").write_text(address)  # where `ray start` records it
    monkeypatch.setenv("RAY_TMPDIR", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ray/auth_token: nothing set in this process
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    joined = []

    def no_live_node(address: str | None = None, **kwargs: object) -> None:
        joined.append(address)  # Ray 2.60's ray.init when no raylet of the cluster runs on this machine
        raise RuntimeError(
            "No node info found matching attributes: '' when trying to resolve node to connect to."
        )

    monkeypatch.setattr(ray, "init", no_live_node)
    config = tmp_path / "c.yaml"  # the grid needs Ray only for an LLM's wrong answers
    config.write_text(
        "models: [{name: m, source: builtin:tiny-random}]\n"
        "grid: {tasks: [{name: demo, n: 2}], wrong_answer_model: builtin:tiny-random}\n"
    )
    try:
        code = cli.main(["grid", str(config), "--run-dir", str(tmp_path / "run")])
    finally:
        head.close()
    err = capsys.readouterr().err
    assert joined == [address], err  # the recorded cluster was the one joined
    assert code == 2 and "Traceback" not in err and "bug in warmray" not in err, err
    message = err[err.index("warmray") :].strip()
    assert "\n\n" not in message, err
    for said in (address, "raylet has died", "`ray stop`", "session_latest/logs/raylet.out"):
        assert said in message, err
    assert not (tmp_path / "run" / "grid").exists()
