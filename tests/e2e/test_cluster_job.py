"""`ray job submit` to a real Ray head on loopback runs the tiny study and writes its Parquet tables."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from e2e_helpers import ROOT, check_run_dir, free_port

RAY = str(Path(sys.executable).parent / "ray")
pytestmark = [pytest.mark.slow, pytest.mark.cluster]


@pytest.fixture
def ray_head():
    port, dashboard = free_port(), free_port()
    env = os.environ | {"RAY_AUTH_MODE": "token"}
    subprocess.run(
        [
            RAY,
            "start",
            "--head",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dashboard}",
            "--num-cpus=8",
            "--disable-usage-stats",
        ],
        check=True,
        env=env,
        capture_output=True,
        timeout=180,
    )
    try:
        yield f"http://127.0.0.1:{dashboard}", env
    finally:
        subprocess.run([RAY, "stop", "--force"], env=env, capture_output=True, timeout=120)


def test_job_submit_runs_the_tiny_study_on_a_ray_head(ray_head, tmp_path):
    address, env = ray_head
    run_dir, job_id = tmp_path / "run", f"warmray-test-{uuid.uuid4().hex[:8]}"
    submit = subprocess.run(
        [
            RAY,
            "job",
            "submit",
            "--address",
            address,
            "--working-dir",
            str(ROOT),
            "--submission-id",
            job_id,
            "--",
            sys.executable,
            "-m",
            "warmray",
            "run",
            "configs/tiny.yaml",
            "--run-dir",
            str(run_dir),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
    )
    status = subprocess.run(
        [RAY, "job", "status", "--address", address, job_id],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "succeeded" in (status.stdout + status.stderr).lower(), (
        submit.stdout[-4000:] + submit.stderr[-2000:]
    )
    assert (
        "joining the Ray cluster" in submit.stdout + submit.stderr
    )  # the job used the cluster, not a local Ray
    verdicts = check_run_dir(run_dir, {"original", "warm", "cold", "warm_sysprompt"})
    assert set(verdicts["model"]) == {"tiny"}
