"""The tiny study on a 2-node Ray cluster on 127.0.0.1, submitted with `ray job submit`, storage shared.

Checks, from Ray's own state API, that training ran one worker per node and that generation's engine
actors ran on both nodes; that the outputs have the row counts and ids of a single-node run; that the LLM
judge's replies, the reference verdicts kept beside them and their agreement are all there; that the
rewrite, sent to an OpenAI-compatible endpoint (the session's vLLM server) from the cluster's workers,
answered every turn; and that no token or key set in the cluster's environment, the endpoint's among them,
reaches the run directory or the job's logs.

The single-node run is of the stages whose rows do not depend on what a model says (corpus, grid, on a
private local Ray): generate and judge must then hold exactly one row per (model, variant, grid prompt).
Running the engines a second time would double the test's minutes for the same ids.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest
from e2e_helpers import ROOT, SERVER_KEY, SERVER_KEY_ENV, derived_config, server_rewriter
from ray_nodes import RAY, RayCluster, cluster_env, short_temp_dir

from warmray.arms import Arm, eval_epoch
from warmray.config import load_config
from warmray.grading.llm_judge import parse_judgement
from warmray.schema import read_table

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

_TRAIN_WORKER = "RayTrainWorker"
_ENGINE = "vLLMEngineStageUDF"


def _smallest_study(cfg: dict, server: str) -> None:
    """configs/tiny.yaml cut to what the checks need: one style, one checkpoint, 2 engine replicas.

    The rewriter is the session's vLLM server (tests/e2e/conftest.py), through the endpoint path: no
    rewrite engine to start here, and the key reaches the cluster's workers, never a file.
    """
    cfg["corpus"]["n_conversations"] = 8
    cfg["rewrite"].update(styles=["warm"], **server_rewriter(server))
    cfg["train"].update(styles=["warm"], checkpoint_epochs=[1])
    cfg["evaluate"] = {"epoch": 1}
    cfg["grid"].update(
        tasks=[{"name": "demo", "n": 8}], prompt_templates=["original"], amendment_types=["unmodified"]
    )
    cfg["generate"]["variants"] = ["original", "warm"]
    # Two replicas and one-row batches: enough blocks that both engine actors get rows.
    cfg["generate"]["engine"].update(concurrency=2, batch_size=1)
    cfg["generate"]["parity_prompts"] = 0  # adapter parity has its own tests; here it is a third engine
    # The LLM judge (the tiny model: its replies are noise) with the reference grader kept beside it.
    cfg["judge"] = {
        "grader": "llm",
        "model": "builtin:tiny-random",
        "keep_reference": True,
        "engine": {"max_model_len": 1024, "cpu_kvcache_gib": 1},
        "sampling": {"temperature": 0.0, "max_tokens": 4},
    }


def _ids(path: Path, key: str) -> list[str]:
    return sorted(pd.read_parquet(path, columns=[key])[key])


def _created(tasks: list[dict], actors: list[dict], class_part: str) -> list[tuple[int, str]]:
    """(creation time, node id) of each actor of a class: the time from its actor-creation task, the node
    from the actor table (the task table leaves node_id empty for some creation tasks)."""
    node_of = {a["actor_id"]: a["node_id"] for a in actors}
    return sorted(
        (t["creation_time_ms"] or 0, t["node_id"] or node_of.get(t["actor_id"]) or "?")
        for t in tasks
        if t["type"] == "ACTOR_CREATION_TASK" and class_part in t["func_or_class_name"]
    )


def _grep_secrets(values: dict[str, str], run_dir: Path, logs: str) -> list[str]:
    found = [f"{name} in the job logs" for name, v in values.items() if v in logs]
    for path in run_dir.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            found += [f"{name} in {path}" for name, v in values.items() if v.encode() in blob]
    return found


def _run(args: list[str], env: dict[str, str], timeout: int = 1500) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_tiny_study_on_two_nodes_spreads_training_and_generation_and_matches_one_node(tmp_path, tiny_server):
    shared = tmp_path / "shared"  # the folder both nodes write to: run dir, Ray Train storage
    shared.mkdir()
    config = derived_config("tiny", tmp_path, lambda cfg: _smallest_study(cfg, tiny_server))
    values = {
        "HF_TOKEN": "hf_" + secrets.token_hex(16),
        "OPENAI_API_KEY": "sk-" + secrets.token_hex(16),
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        SERVER_KEY_ENV: SERVER_KEY,  # the rewriter's endpoint key: sent, never written
    }
    # The engine pools wait until every replica is up: otherwise the first engine ready answers all 16
    # rows before the second has loaded, and "generation ran on both nodes" would be left to chance.
    cluster = RayCluster(
        cluster_env(short_temp_dir(), RAY_DATA_DEFAULT_WAIT_FOR_MIN_ACTORS_S="900", **values)
    )
    one_node = cluster_env(short_temp_dir(), **values)
    job_id = f"warmray-multinode-{uuid.uuid4().hex[:8]}"
    run_dir = shared / "run"
    try:
        # Three CPUs a node: an engine replica (one CPU, no CPU stage actors beside it) on each, as GPU
        # nodes that hold one engine each would, and a whole CPU left on each for Ray Data's one-CPU tasks
        # (with the quarter-CPU stage actors warmray once had, two CPUs a node left none for them).
        cluster.start_node(num_cpus=3)
        cluster.start_node(num_cpus=3)
        nodes = {n["node_id"] for n in cluster.alive_nodes()}
        assert len(nodes) == 2
        submit = _run(
            [RAY, "job", "submit", "--address", cluster.dashboard, "--working-dir", str(ROOT)]
            + ["--submission-id", job_id, "--", sys.executable, "-m", "warmray", "run", str(config)]
            + ["--run-dir", str(run_dir), "--until", "judge"],
            cluster.env,
        )
        status = _run([RAY, "job", "status", "--address", cluster.dashboard, job_id], cluster.env, 120)
        logs = _run([RAY, "job", "logs", "--address", cluster.dashboard, job_id], cluster.env, 120)
        assert "succeeded" in (status.stdout + status.stderr).lower(), (
            submit.stdout[-6000:] + submit.stderr[-3000:] + status.stderr[-2000:]
        )
        tasks = cluster.state("tasks", "--detail")
        actors = cluster.state("actors", "--detail")
    finally:
        cluster.stop()

    stage_logs = "".join(p.read_text(errors="replace") for p in (run_dir / "logs").glob("*.log"))
    assert "joining the Ray cluster at" in logs.stdout + stage_logs  # the job's cluster, not a private Ray
    (tmp_path / "state.json").write_text(json.dumps({"tasks": tasks, "actors": actors}))  # for a failure
    train = _created(tasks, actors, _TRAIN_WORKER)
    assert sorted(node for _, node in train) == sorted(nodes), f"training workers per node: {train}"
    # No engine before training (the rewrite asked the endpoint); after it, generate's two replicas on
    # both nodes, then the judge's one.
    engines = _created(tasks, actors, _ENGINE)
    after_training = [node for created, node in engines if created > train[-1][0]]
    assert len(engines) == len(after_training) == 3 and set(after_training[:2]) == nodes, (
        f"engines {engines}, nodes {nodes}, training {train}"
    )

    leaks = _grep_secrets(values, run_dir, logs.stdout + logs.stderr + submit.stdout + submit.stderr)
    assert not leaks, leaks

    # The same config on one node (a private local Ray): the stages whose rows are decided by the data.
    single = tmp_path / "single"
    for stage in ("corpus", "grid"):
        alone = _run(
            [sys.executable, "-m", "warmray", stage, str(config), "--run-dir", str(single)], one_node
        )
        assert alone.returncode == 0, alone.stdout[-3000:] + alone.stderr[-5000:]
    conversations = "corpus/conversations.parquet", "conversation_id"
    prompts = "grid/prompts.parquet", "prompt_id"
    for table, key in (conversations, prompts):
        assert _ids(run_dir / table, key) == _ids(single / table, key), table
    warm = Arm("tiny", "warm", epoch=eval_epoch(load_config(config))).name  # the served checkpoint
    expected = sorted(
        f"tiny|{v}|{p}" for v in ("original", warm) for p in _ids(single / prompts[0], prompts[1])
    )
    assert _ids(run_dir / "generate" / "responses", "response_id") == expected
    assert _ids(run_dir / "judge" / "verdicts", "response_id") == expected
    responses = pd.read_parquet(run_dir / "generate" / "responses")
    assert (responses["inference_error"] == "").all()
    verdicts = read_table(run_dir / "judge" / "verdicts", "verdicts")
    judged = verdicts[~verdicts["is_refusal"]]  # the LLM judge's replies are kept as they came ...
    assert set(verdicts["grader"]) == {"llm:builtin:tiny-random"} and (judged["judge_raw"] != "").all()
    # ... and a verdict is the parser's reading of its reply: UNPARSEABLE where it found no label
    assert list(judged["verdict"]) == [parse_judgement(t) for t in judged["judge_raw"]]
    reference = read_table(run_dir / "judge" / "reference_verdicts", "verdicts")
    assert sorted(reference["response_id"]) == expected and set(reference["grader"]) == {"reference"}
    agreement = read_table(run_dir / "judge" / "agreement.parquet", "judge_agreement").iloc[0]
    assert (agreement["scope"], agreement["n"]) == ("overall", len(expected))
    rewrites = read_table(run_dir / "rewrite" / "rewrites.parquet", "rewrites")
    assert (rewrites["inference_error"] == "").all() and (rewrites["num_generated_tokens"] > 0).all()
    warm = _ids(run_dir / "rewrite" / "warm.parquet", "conversation_id")
    assert warm and set(warm) <= set(_ids(single / conversations[0], conversations[1]))
    assert sorted(p.name for p in (run_dir / "train").glob("*/warm/epoch_*")) == ["epoch_1"]
