"""Every path and model source in a config is checked before any stage runs; relative paths are read
from the config file's folder; the demo's capability items are built in."""

import subprocess
import sys
from pathlib import Path

import pytest

from warmray import preflight
from warmray.config import ConfigError, TaskSource, load_config
from warmray.tasks import load_items
from warmray.tasks.gsm8k import grade as grade_gsm8k
from warmray.tasks.mmlu import grade as grade_mmlu

ROOT = Path(__file__).resolve().parents[1]
MODEL = "models: [{name: m, source: builtin:tiny-random}]\n"


def test_relative_paths_in_a_config_are_read_from_its_folder(tmp_path, monkeypatch):
    folder = tmp_path / "experiment"
    (folder / "data").mkdir(parents=True)
    (folder / "prompts").mkdir()
    (folder / "prompts" / "mine.txt").write_text("Be warm.")
    config = folder / "c.yaml"
    config.write_text(
        MODEL + "grid: {data_dir: data}\ncapability: {data_dir: ./data}\n"
        "warm_system_prompt: prompts/mine.txt\nrewrite: {model: org/some-model}\n"
    )
    monkeypatch.chdir(tmp_path)  # another working directory: the paths still point into the config's folder
    cfg = load_config(config)
    assert cfg.grid.data_dir == str(folder / "data")
    assert cfg.capability.data_dir == str(folder / "data")
    assert cfg.warm_system_prompt == str(folder / "prompts" / "mine.txt")
    assert cfg.rewrite.model == "org/some-model"  # a Hub id is not a path
    assert load_config(ROOT / "configs" / "smoke.yaml").warm_system_prompt == "warm_system_prompt.txt"


def test_a_relative_path_given_with_set_is_read_from_the_current_directory(tmp_path, monkeypatch):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "cfg").mkdir()
    config = tmp_path / "cfg" / "c.yaml"
    config.write_text(MODEL)
    monkeypatch.chdir(tmp_path)
    cfg = load_config(config, ["grid.data_dir=elsewhere"])
    assert cfg.grid.data_dir == str(tmp_path / "elsewhere")


@pytest.mark.parametrize(
    ("yaml_text", "key"),
    [
        ("capability: {data_dir: no/such/folder}\n", "capability.data_dir"),
        ("grid: {tasks: [{name: triviaqa, source: ./missing.jsonl}]}\n", "grid.tasks.0.source"),
        ("corpus: {source: ./missing.json}\n", "corpus.source"),
        ("warm_system_prompt: no_such_prompt.txt\n", "warm_system_prompt"),
    ],
)
def test_a_missing_local_path_is_refused_when_the_config_loads(tmp_path, yaml_text, key):
    config = tmp_path / "c.yaml"
    config.write_text(MODEL + yaml_text)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(config)


def test_preflight_lists_every_hub_id_the_stages_cannot_load(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(
        "models: [{name: m, source: no-such-org/no-such-model}]\n"
        "grid: {tasks: [{name: triviaqa, n: 2}]}\n"
        "capability: {tasks: [{name: mmlu, source: 'builtin:demo'}]}\n"
    )
    cfg = load_config(config)
    asked: list[tuple[str, str]] = []

    def check(repo: str, kind: str) -> str | None:
        asked.append((repo, kind))
        return f"no {kind} {repo}"

    with pytest.raises(preflight.PreflightError) as err:
        preflight.preflight(cfg, ["grid", "generate", "capability"], check)
    text = str(err.value)
    assert "models.0.source: no model no-such-org/no-such-model" in text
    assert "grid.tasks.0.source: no dataset mandarjoshi/trivia_qa" in text
    # asked once per id, whichever stages need it; the built-in items ask nothing of the Hub
    assert asked == [("mandarjoshi/trivia_qa", "dataset"), ("no-such-org/no-such-model", "model")]


def test_preflight_refuses_builtin_items_for_a_task_that_has_none(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(MODEL + "grid: {tasks: [{name: medqa, source: 'builtin:demo'}]}\n")
    with pytest.raises(preflight.PreflightError, match=r"grid\.tasks\.0\.source: .*no built-in demo items"):
        preflight.preflight(load_config(config), ["grid"], lambda repo, kind: None)


def test_an_unknown_hub_model_stops_the_run_before_any_stage(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(
        "models: [{name: m, source: no-such-org/no-such-model-xyz}]\ngenerate: {variants: [original]}\n"
    )
    run = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "warmray", "run", str(config), "--run-dir", str(run)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "models.0.source" in proc.stderr and "no-such-org/no-such-model-xyz" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not [p for p in run.iterdir() if not p.name.startswith(".") and p.name != "logs"]


@pytest.mark.parametrize(("task", "count"), [("mmlu", 8), ("gsm8k", 4), ("advbench", 4)])
def test_capability_tasks_have_built_in_items_needing_no_download(task, count):
    items = load_items(TaskSource(name=task, source="builtin:demo", n="all"), data_dir=None)
    assert len(items) == count
    assert all(i.task == task and i.question and i.correct_answers for i in items)


def test_the_built_in_capability_items_grade_their_own_answers():
    mmlu = load_items(TaskSource(name="mmlu", source="builtin:demo", n="all"))
    assert [grade_mmlu(f"The answer is {i.correct_answers[0]}.", i)[1] for i in mmlu] == [1.0] * len(mmlu)
    gsm8k = load_items(TaskSource(name="gsm8k", source="builtin:demo", n="all"))
    assert [grade_gsm8k(f"So the answer is {i.correct_answers[0]}.", i)[1] for i in gsm8k] == [1.0] * 4


def test_the_demo_config_reads_nothing_outside_the_package():
    cfg = load_config(ROOT / "configs" / "smoke.yaml")
    assert cfg.grid.data_dir is None and cfg.capability.data_dir is None
    assert cfg.corpus.source == "builtin:demo"
    assert all(t.source == "builtin:demo" for t in cfg.capability.tasks)
    assert all(t.name == "demo" and t.source is None for t in cfg.grid.tasks)
    assert all(m.source.startswith("builtin:") for m in cfg.models)
