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


def _resolve_tiny(_: int) -> str:
    return resolve_model("builtin:tiny-random")


def test_concurrent_first_resolutions_build_the_model_once(tmp_path, monkeypatch):
    import multiprocessing

    monkeypatch.setenv("WARMRAY_CACHE", str(tmp_path))
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        paths = pool.map(_resolve_tiny, range(3))
    assert len(set(paths)) == 1
    built = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert [p.name for p in built] == ["tiny-random-v1"]
    assert not [
        p for p in tmp_path.iterdir() if p.is_dir() and p.name.startswith(".")
    ]  # no half-built folders
