"""Trouble from outside warmray reaches the user as one explained paragraph, exit 2, the log named.

The hub that cannot be reached, Ray that does not start, a data file that is not UTF-8, an endpoint that
refuses connections, a full disk, a read-only folder: none is a bug in warmray, so none may end in a
traceback or "this is a bug in warmray".
"""

from __future__ import annotations

import errno
import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from manifest_helpers import finish_stage

from warmray import cli
from warmray.errors import explain_outside

ROOT = Path(__file__).resolve().parents[1]
DEMO_ITEMS = ROOT / "warmray" / "data" / "demo_items.jsonl"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "warmray", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def assert_explained(code: int, err: str, *phrases: str) -> None:
    """Exit 2, no traceback, no bug report, every phrase in the message, and the message one paragraph."""
    assert code == 2, err
    assert "Traceback" not in err and "bug in warmray" not in err, err
    for phrase in phrases:
        assert phrase in err, err
    message = err[err.index("warmray") :]
    assert "\n\n" not in message.strip(), err


def log_named(err: str) -> Path:
    """The log file an error message names; it exists and holds the full error."""
    line = next(s for s in err.splitlines() if "(log: " in s)
    path = Path(line.split("(log: ", 1)[1].rstrip(")"))
    assert path.is_file() and "the error, in full" in path.read_text(), err
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_hub_unreachable_in_the_corpus_stage_is_explained_like_the_grid_does(
    tmp_path, monkeypatch, capsys
):
    from huggingface_hub.errors import LocalEntryNotFoundError

    def offline(repo_id: str, filename: str) -> Path:
        raise LocalEntryNotFoundError(
            "An error happened while trying to locate the file on the Hub and we cannot find the requested "
            "files in the local cache."
        ) from ConnectionError("[Errno -2] Name or service not known: huggingface.co")

    monkeypatch.setattr("warmray.preflight.hub_problem", lambda repo, kind: None)  # as if the id was checked
    monkeypatch.setattr("warmray.stages.corpus.sources._download", offline)
    config = tmp_path / "c.yaml"
    config.write_text("models: [{name: m, source: builtin:tiny-random}]\ncorpus: {source: someone/chats}\n")
    code = cli.main(["corpus", str(config), "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert_explained(code, err, "cannot reach the Hugging Face hub", "corpus.source", "builtin:demo")
    assert log_named(err) == tmp_path / "run" / "logs" / "corpus.log"
    assert not (tmp_path / "run" / "corpus").exists()


def test_ray_that_fails_to_start_says_what_failed_and_what_to_try(tmp_path, monkeypatch, capsys):
    import ray

    def raylet_timeout(*args: object, **kwargs: object) -> None:
        raise Exception("The current node timed out during startup. This could happen because the raylet")

    monkeypatch.setattr(ray, "init", raylet_timeout)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    config = tmp_path / "c.yaml"  # the grid needs Ray only for an LLM's wrong answers
    config.write_text(
        "models: [{name: m, source: builtin:tiny-random}]\n"
        "grid: {tasks: [{name: demo, n: 2}], wrong_answer_model: builtin:tiny-random}\n"
    )
    code = cli.main(["grid", str(config), "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert_explained(code, err, "Ray did not start", "timed out during startup", "ray start --head")
    assert log_named(err) == tmp_path / "run" / "logs" / "grid.log"


def test_a_stale_ray_address_is_refused_at_once_not_waited_on(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(
        "models: [{name: m, source: builtin:tiny-random}]\n"
        "grid: {tasks: [{name: demo, n: 2}], wrong_answer_model: builtin:tiny-random}\n"
    )
    stale = f"127.0.0.1:{free_port()}"
    proc = run_cli("grid", str(config), "--run-dir", str(tmp_path / "run"), env={"RAY_ADDRESS": stale})
    assert_explained(proc.returncode, proc.stderr, f"nothing answers at {stale}", "unset RAY_ADDRESS")


def test_a_line_that_is_not_utf8_is_set_aside_with_file_line_and_reason(tmp_path):
    lines = DEMO_ITEMS.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b"Romeo", b"Rom\xe9o")  # Latin-1, not UTF-8
    items = tmp_path / "items.jsonl"
    items.write_bytes(b"".join(lines))
    config = tmp_path / "c.yaml"
    config.write_text(
        "models: [{name: m, source: builtin:tiny-random}]\n"
        f"grid: {{tasks: [{{name: demo, source: {items}}}]}}\n"
    )
    proc = run_cli("grid", str(config), "--run-dir", str(tmp_path / "run"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rejects = pd.read_parquet(tmp_path / "run" / "grid" / "rejects.parquet")
    bad = rejects[
        rejects["detail"].str.contains("not UTF-8", na=False) | rejects["reason"].str.contains("UTF-8")
    ]
    assert len(bad) == 1, rejects.to_string()
    said = " ".join(bad.iloc[0].astype(str))
    assert "line 3" in said and str(items) in said, said
    prompts = pd.read_parquet(tmp_path / "run" / "grid" / "prompts.parquet")
    assert prompts["item_id"].nunique() == len(lines) - 1


def test_a_data_file_that_cannot_be_read_at_all_is_one_error_naming_it(tmp_path):
    chats = tmp_path / "chats.json"  # one JSON array: a bad byte stops the reader, not one record
    chats.write_bytes(b'[{"conversations": [{"from": "human", "value": "caf\xe9"}]}]')
    config = tmp_path / "c.yaml"
    config.write_text(f"models: [{{name: m, source: builtin:tiny-random}}]\ncorpus: {{source: {chats}}}\n")
    proc = run_cli("corpus", str(config), "--run-dir", str(tmp_path / "run"))
    assert_explained(proc.returncode, proc.stderr, str(chats), "not UTF-8", "0xe9")
    log_named(proc.stderr)


def test_an_endpoint_that_refuses_connections_is_reported_before_ray_starts(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    config = tmp_path / "c.yaml"
    config.write_text(
        f"models: [{{name: m, source: served-model, endpoint: '{url}'}}]\n"
        "generate: {variants: [original]}\ngrid: {tasks: [{name: demo, n: 2}]}\n"
    )
    proc = run_cli("run", str(config), "--run-dir", str(tmp_path / "run"), "--until", "generate")
    assert_explained(proc.returncode, proc.stderr, f"cannot reach {url}", "nothing was run")
    assert not (tmp_path / "run" / "grid").exists() and not (tmp_path / "run" / "logs").exists()


@pytest.mark.parametrize(
    ("error", "phrases"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), ["connection failed", "curl"]),
        (
            OSError(errno.ENOSPC, "No space left on device", "/runs/x/generate/part.parquet"),
            ["df -h /runs/x"],
        ),
        (OSError(errno.EROFS, "Read-only file system", "/runs/x/.lock"), ["read-only", "--run-dir"]),
        (PermissionError(errno.EACCES, "Permission denied", "/runs/x/logs"), ["permission denied"]),
    ],
)
def test_machine_and_network_errors_read_as_one_paragraph_even_when_wrapped(error, phrases):
    class TaskError(RuntimeError):  # as Ray wraps a worker's exception: the original in `cause`
        def __init__(self, cause: BaseException) -> None:
            super().__init__("task failed")
            self.cause = cause

    for raised in (error, TaskError(error)):
        text = explain_outside(raised, "generate")
        assert text is not None and "\n" not in text
        for phrase in phrases:
            assert phrase in text


def test_a_bug_is_still_a_bug():
    assert explain_outside(ZeroDivisionError("division by zero")) is None
    assert explain_outside(KeyError("verdict")) is None
    try:
        try:
            raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
        except OSError:
            {}["retries"]  # a bug in the handler of a network error
    except KeyError as bug:
        assert explain_outside(bug) is None


def test_a_read_only_run_directory_is_explained(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"

    def read_only(self: object) -> None:  # what os.open raises on a read-only mount (root ignores chmod)
        raise OSError(errno.EROFS, "Read-only file system", str(run / ".lock"))

    monkeypatch.setattr("warmray.rundir.RunDir.locked", read_only)
    config = tmp_path / "c.yaml"
    config.write_text(
        "models: [{name: m, source: builtin:tiny-random}]\ngrid: {tasks: [{name: demo, n: 2}]}\n"
    )
    code = cli.main(["grid", str(config), "--run-dir", str(run)])
    err = capsys.readouterr().err
    assert_explained(code, err, f"{run / '.lock'}: the file system is read-only", "--run-dir")


def test_version_and_a_fast_argument_error():
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("warmray "), proc.stderr
    probe = (
        "import sys\nfrom warmray.cli import main\ntry:\n    main(['run', '--bogus'])\n"
        "except SystemExit as e:\n"
        "    print(e.code, *(m in sys.modules for m in ('pandas', 'ray', 'torch')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert proc.stdout.split() == ["2", "False", "False", "False"], proc.stdout + proc.stderr


def test_a_second_sweep_on_a_run_directory_in_use_is_refused_naming_the_holder(tmp_path, capsys):
    import argparse

    from warmray.rundir import RunDir, RunDirBusy
    from warmray.sweep import command

    run = tmp_path / "run"
    args = argparse.Namespace(config=ROOT / "configs" / "sweep.yaml", run_dir=run, verbose=True)
    with RunDir(run).locked(), pytest.raises(RunDirBusy, match=f"{run} is in use by another warmray command"):
        command(args)  # the CLI ends a RunDirBusy with exit 2
    assert not (run / "sweep" / "tune").exists()


def test_the_shutdown_log_never_becomes_the_log_an_error_names(tmp_path):
    from warmray.console import Console

    console = Console(verbose=True)
    with console.capture(tmp_path / "generate.log"):
        pass
    with console.capture(tmp_path / "shutdown.log", holds_errors=False):
        pass
    assert console.log_file == tmp_path / "generate.log"


def test_a_deleted_committed_adapter_is_explained_with_the_stage_to_redo(tmp_path):
    from warmray.arms import stage_arms
    from warmray.config import load_config
    from warmray.stage import StageContext, StageError

    config = load_config(ROOT / "configs" / "tiny.yaml", ["generate.variants=[warm]"])
    ctx = StageContext(config, tmp_path)
    finish_stage(tmp_path / "train")  # train finished; its adapters are gone
    with pytest.raises(StageError, match=r"adapter .* is gone .*`warmray train CONFIG --force`"):
        stage_arms(ctx, "generate", config.models[0])


def test_a_hub_that_answers_no_is_not_called_unreachable():
    import httpx
    from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError

    response = httpx.Response(404, request=httpx.Request("GET", "https://huggingface.co/api/models/x/y"))
    refused = explain_outside(
        RepositoryNotFoundError("404 Client Error: Repository Not Found", response=response)
    )
    assert refused is not None and "spelling" in refused and "cannot reach" not in refused
    offline = explain_outside(LocalEntryNotFoundError("cannot find the requested files in the local cache"))
    assert offline is not None and "cannot reach the Hugging Face hub" in offline
