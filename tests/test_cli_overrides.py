"""Every command that takes a config honours `--set`: the overrides reach the config it loads."""

from __future__ import annotations

import argparse

import pandas as pd
import pytest

from warmray import cli
from warmray.config import ConfigError


def _commands_with_a_config() -> list[str]:
    """Subcommands whose parser takes a CONFIG positional (each tool's own arguments loaded)."""
    names = []
    top = cli._parser()
    sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    for name in sub.choices:
        parser = next(
            a for a in cli._parser(name)._actions if isinstance(a, argparse._SubParsersAction)
        ).choices[name]
        if any(a.dest == "config" for a in parser._actions):
            names.append(name)
    return names


@pytest.fixture
def recorded(monkeypatch):
    """load_config, wherever a command imported it, records its overrides and stops the command."""
    calls: list[list[str]] = []

    def record(path, overrides=()):
        calls.append(list(overrides))
        raise ConfigError("stopped by the test after loading the config")

    import warmray.judge_files
    import warmray.plan

    for module in (warmray.config, warmray.cli, warmray.plan, warmray.judge_files):
        monkeypatch.setattr(module, "load_config", record)
    return calls


def test_the_walk_finds_the_commands_that_take_a_config():
    names = _commands_with_a_config()
    assert {"run", "judge", "analyze", "plan", "sweep", "generate", "audit"} <= set(names)
    assert "judge-agreement" not in names and "sociot" not in names


@pytest.mark.parametrize("name", _commands_with_a_config())
def test_set_reaches_the_config_of_every_command(name, recorded, tmp_path, monkeypatch):
    config = tmp_path / "c.yaml"
    config.write_text("models: []\n")
    sets = ["--set", "judge.grader=llm", "--set", "train.epochs=2"]
    if name == "audit":  # builds its config from the targets and --config: record the request it builds from
        import warmray.audit

        def record(req):
            recorded.append(list(req.overrides))
            raise ConfigError("stopped by the test after building the request")

        monkeypatch.setattr(warmray.audit, "build_config", record)
        argv = ["audit", "builtin:tiny-random", "--config", str(config), *sets]
    else:
        argv = [name, str(config), *sets]
    assert cli.main(argv) == 2
    assert recorded == [["judge.grader=llm", "train.epochs=2"]], f"{name}: --set did not reach its config"


def test_audit_applies_set_last_to_the_config_it_builds(tmp_path):
    from warmray.audit.experiment import AuditRequest, build_config
    from warmray.audit.targets import parse_target

    target = parse_target("builtin:tiny-random", "OPENAI_API_KEY")
    request = AuditRequest(
        targets=(target,), names=("tiny",), items=2, overrides=("judge.refusal_rule=strict", "seed=7")
    )
    config = build_config(request)
    assert config.judge.refusal_rule == "strict" and config.seed == 7


def _verdict_file(path):
    pd.DataFrame(
        {
            "question": ["Capital of France?"],
            "response": ["Paris."],
            "correct_answers": ["Paris"],
            "incorrect_answers": ["Lyon"],
        }
    ).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("name", ["judge", "analyze"])
def test_set_reaches_the_config_with_from(name, recorded, tmp_path, capsys):
    file = _verdict_file(tmp_path / "v.csv")
    config = tmp_path / "c.yaml"
    config.write_text("models: []\n")
    argv = [name, str(config), "--from", str(file), "--out", str(tmp_path / "o"), "--set", "judge.grader=llm"]
    assert cli.main(argv) == 2
    assert recorded == [["judge.grader=llm"]]
    assert "stopped by the test" in capsys.readouterr().err


def test_judge_from_without_a_config_applies_set_to_the_default_judge(tmp_path, capsys):
    file = _verdict_file(tmp_path / "v.csv")
    argv = ["judge", "--from", str(file), "--out", str(tmp_path / "o"), "--set", "judge.refusal_rule=nope"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "judge.refusal_rule" in err and "Traceback" not in err
