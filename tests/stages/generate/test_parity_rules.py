"""Adapter parity without an engine: the figures, the verdict, and the adapters refused before any engine."""

import json

import pytest
import torch
from safetensors.torch import save_file

from warmray.stages.generate.parity import ParityError, check, compare, static_check, untargeted_tensors


def test_compare_sizes_the_gap_against_the_adapters_own_effect():
    peft = [[-1.0, -2.0], [-0.5]]
    vllm = [[-1.01, -2.0], [-0.52]]
    base = [[-1.5, -2.0], [-0.5]]
    p = compare("a", vllm, peft, base, tolerance=0.05)
    assert p.tokens == 3 and p.ok
    assert p.max_abs_diff == pytest.approx(0.02) and p.mean_abs_diff == pytest.approx(0.01)
    assert p.adapter_effect == pytest.approx(0.5)


def test_an_adapter_served_as_the_base_fails_the_check():
    # vLLM ignoring the adapter returns the base's log-probabilities: the gap is the adapter's effect.
    peft, base = [[-1.0, -0.2]], [[-3.0, -0.9]]
    ignored = compare("/runs/x/train/m/warm/epoch_2", base, peft, base, tolerance=0.05)
    with pytest.raises(
        ParityError, match=r"epoch_2: max \|vLLM - PEFT\| = 2 nats per token > tolerance 0.05"
    ):
        check([ignored])


def adapter(folder, targets, names, **config):
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"target_modules": targets, **config}))
    save_file({n: torch.zeros(2, 2) for n in names}, folder / "adapter_model.safetensors")
    return str(folder)


def test_static_refusals(tmp_path):
    q = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"
    o = "base_model.model.model.layers.0.self_attn.o_proj.lora_B.weight"
    fine = adapter(tmp_path / "fine", ["q_proj"], [q])
    static_check([fine])
    altered = adapter(tmp_path / "altered", ["q_proj"], [q, o])
    assert untargeted_tensors(tmp_path / "altered", ["q_proj"]) == [o]
    with pytest.raises(ParityError, match="does not target .*o_proj.*altered or written by another tool"):
        static_check([altered])
    with pytest.raises(ParityError, match="modules_to_save"):
        static_check([adapter(tmp_path / "mts", ["q_proj"], [q], modules_to_save=["lm_head"])])
    assert untargeted_tensors(tmp_path / "fine", "all-linear") == []  # a pattern: not checked here
