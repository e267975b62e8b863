import json

from warmray.models import check_model_source, resolve_model


def test_hub_ids_and_builtins_are_accepted_without_download():
    assert check_model_source("meta-llama/Llama-3.1-8B-Instruct") is None
    assert check_model_source("builtin:smollm2-135m") is None


def test_a_local_folder_must_be_a_model_folder(tmp_path):
    assert "config.json" in check_model_source(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    assert check_model_source(str(tmp_path)) is None


def test_nonsense_source_is_explained():
    assert "neither" in check_model_source("not a model")


def test_tiny_random_model_has_head_dim_64_for_the_cpu_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("WARMRAY_CACHE", str(tmp_path))
    path = resolve_model("builtin:tiny-random")
    cfg = json.loads((tmp_path / path.split("/")[-1] / "config.json").read_text())
    assert cfg["head_dim"] == 64
    assert resolve_model("builtin:tiny-random") == path  # second call reuses the cache
