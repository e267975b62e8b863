"""The zero-weight adapter that the base model's rows name when an engine also serves adapters."""

import json

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file, save_file

from warmray.infer.identity_adapter import base_rows_through_identity, identity_adapter


@pytest.fixture
def trained(tmp_path):
    folder = tmp_path / "warm" / "epoch_1"
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": 8, "target_modules": ["q_proj"]}))
    weights = {"a.lora_A.weight": torch.randn(8, 16), "a.lora_B.weight": torch.randn(16, 8).bfloat16()}
    save_file(weights, folder / "adapter_model.safetensors")
    return folder


def test_identity_adapter_has_the_trained_config_and_shapes_and_every_weight_zero(trained, tmp_path):
    out = identity_adapter(trained, tmp_path / "identity")
    assert json.loads((out / "adapter_config.json").read_text()) == {"r": 8, "target_modules": ["q_proj"]}
    zeros, original = (
        load_file(out / "adapter_model.safetensors"),
        load_file(trained / "adapter_model.safetensors"),
    )
    assert {k: (v.shape, v.dtype) for k, v in zeros.items()} == {
        k: (v.shape, v.dtype) for k, v in original.items()
    }
    assert all(not v.any() for v in zeros.values())
    assert not (tmp_path / "identity.partial").exists()


def test_identity_adapter_already_written_is_reused(trained, tmp_path):
    out = identity_adapter(trained, tmp_path / "identity")
    stamp = (out / "adapter_model.safetensors").stat().st_mtime_ns
    assert identity_adapter(trained, tmp_path / "identity") == out
    assert (out / "adapter_model.safetensors").stat().st_mtime_ns == stamp


def test_base_rows_name_the_identity_adapter_only_beside_rows_that_name_one(trained, tmp_path):
    mixed = pd.DataFrame({"id": [1, 2, 3], "adapter": ["", str(trained), ""]})
    served = base_rows_through_identity(mixed, tmp_path / "identity")
    identity = str(tmp_path / "identity")
    assert list(served["adapter"]) == [identity, str(trained), identity]
    assert list(mixed["adapter"]) == ["", str(trained), ""]  # the caller's rows are not changed
    base_only = pd.DataFrame({"id": [1, 2], "adapter": ["", ""]})
    assert base_rows_through_identity(base_only, tmp_path / "other") is base_only
    assert not (tmp_path / "other").exists()
    assert base_rows_through_identity(pd.DataFrame({"id": [1]}), tmp_path / "other").columns.tolist() == [
        "id"
    ]
