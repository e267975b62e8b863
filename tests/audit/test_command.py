"""`command(args)`: exit codes and one clear paragraph, before any work, for what the user can fix."""

import argparse

from warmray.audit import add_arguments, command


def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return command(parser.parse_args(list(argv)))


def test_a_bad_target_exits_2_with_the_accepted_forms(capsys, tmp_path):
    assert _run("not-a-model", "--run-dir", str(tmp_path / "run")) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("warmray audit: 'not-a-model' is not a target") and "https://host/v1#model-name" in err
    )
    assert not (tmp_path / "run").exists()


def test_an_unreachable_endpoint_stops_the_audit_before_any_stage(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("NO_SUCH_KEY", "k")
    code = _run("http://127.0.0.1:9/v1#m", "--api-key-env", "NO_SUCH_KEY", "--run-dir", str(tmp_path / "run"))
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot audit; nothing was run" in err and "m (http://127.0.0.1:9/v1#m): cannot reach" in err
    assert not (tmp_path / "run").exists()


def test_retry_failed_reaches_the_stages_the_audit_runs(capsys, tmp_path, monkeypatch):
    from warmray.errors import UserError

    calls = []

    def pipeline(config, root, stages, **options):
        calls.append((stages, options))
        raise UserError("stopped after the first stage")

    monkeypatch.setattr("warmray.audit.run.run_pipeline", pipeline)
    assert _run("builtin:tiny-random", "--run-dir", str(tmp_path / "run"), "--retry-failed") == 2
    assert calls == [(("grid",), {"retry_failed": True})]
    assert "stopped after the first stage" in capsys.readouterr().err
