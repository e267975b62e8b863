"""The replication configs (configs/paper*.yaml, sweep-paper.yaml) run as the study did, on GPUs."""

from pathlib import Path

import pytest
import yaml

from warmray.config import ExperimentConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
PAPER_CONFIGS = ["paper.yaml", "paper-local-data.yaml", "paper-open.yaml", "sweep-paper.yaml"]


def _config(name: str) -> ExperimentConfig:
    # The schema only: these configs name cluster mounts that do not exist here.
    return ExperimentConfig.model_validate(yaml.safe_load((CONFIGS / name).read_text()))


@pytest.mark.parametrize("name", PAPER_CONFIGS)
def test_replication_configs_use_the_study_refusal_rule_and_sociot_scorer(name):
    cfg = _config(name)
    assert cfg.judge.refusal_rule == "study_as_run"
    assert cfg.warmth.scorer in ("gpt2", "openai-community/gpt2")
    assert cfg.warmth.procedure == "later" and cfg.warmth.device == "gpu"


@pytest.mark.parametrize("name", ["paper.yaml", "paper-local-data.yaml", "paper-open.yaml"])
def test_every_engine_of_a_paper_config_is_on_gpus_or_an_endpoint(name):
    cfg = _config(name)
    engines = {
        "rewrite": cfg.rewrite.engine,
        "grid.wrong_answer_engine": cfg.grid.wrong_answer_engine,
        "generate": cfg.generate.engine,
        "judge": cfg.judge.engine,
        "warmth": cfg.warmth.engine,
        "capability": cfg.capability.engine,
    }
    on_cpu = [k for k, e in engines.items() if e.endpoint is None and e.device != "gpu"]
    assert on_cpu == [], f"{name}: CPU engines {on_cpu}"
    assert cfg.device == cfg.train.device == "gpu"


def test_paper_local_data_says_what_differs_from_paper_yaml():
    header = (CONFIGS / "paper-local-data.yaml").read_text().split("\nname:")[0]
    assert "except" in header and "belief answers" in header
    local, paper = _config("paper-local-data.yaml"), _config("paper.yaml")
    assert local.grid.wrong_answer_model  # belief answers written by a model, as in paper.yaml
    assert local.train == paper.train and local.generate == paper.generate
    assert local.corpus.n_conversations == paper.corpus.n_conversations
