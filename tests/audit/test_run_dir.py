"""An audit's run directory: named by what is audited, not by how its requests are sent."""

from pathlib import Path

from warmray.audit.experiment import audit_run_dir
from warmray.config import load_config

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "configs" / "tiny.yaml"


def test_raising_the_tries_resumes_the_same_audit_and_another_judge_model_starts_anew(tmp_path):
    first = audit_run_dir(load_config(TINY), tmp_path)
    retried = load_config(TINY, ["judge.engine.request_tries=9", "generate.engine.request_timeout_s=5"])
    assert audit_run_dir(retried, tmp_path) == first
    other = load_config(TINY, ["judge.engine.max_model_len=777"])
    assert audit_run_dir(other, tmp_path) != first


def test_an_audit_folder_named_before_the_rule_is_still_resumed(tmp_path):
    config = load_config(TINY)
    older = tmp_path / f"audit-{config.section_hash('models', 'grid', 'generate', 'judge', 'seed')}"
    assert audit_run_dir(config, tmp_path) != older
    older.mkdir()
    assert audit_run_dir(config, tmp_path) == older
