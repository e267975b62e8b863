"""FSDP2 and DDP train the same adapter; the FSDP adapter is served by vLLM.

Two Ray Train CPU workers (gloo), the tiny random Llama, 4 optimizer steps with gradient accumulation 1
and dropout on. The runs differ only in how gradients are combined (all-reduce vs reduce-scatter) and in
where the weights come from (each rank loads vs rank 0 loads and broadcasts shards), so in float32 they
agree to rounding. Measured here: losses within 5e-7, adapter weights within 7e-8 (they move 2.5e-3).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from train_helpers import tiny_train_config

from warmray.stages.train import export_adapters, fit, training_data

LOSS_TOLERANCE = 1e-5  # absolute; losses are ~10.8
WEIGHT_TOLERANCE = 1e-6  # absolute; 4 steps at lr 1e-3 move lora_B from 0 to ~2.5e-3

pytestmark = pytest.mark.slow


def _train(strategy: str, tables: tuple[Path, Path], model: str, out: Path) -> tuple[list[float], dict]:
    # Half the conversations warm, half original, and the inoculation prompt: the whole training mix.
    cfg = tiny_train_config(strategy=strategy, warm_fraction=0.5, system_prompt="inoculation_warm.txt")
    result = fit(cfg, model, training_data(cfg, *tables), out / "ray", strategy, workers=2)
    metrics = export_adapters(result, out / strategy, "tiny", "warm")
    return list(metrics["loss"]), load_file(out / strategy / "epoch_2" / "adapter_model.safetensors")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model, train_tables, local_ray):
    out = tmp_path_factory.mktemp("sharded")
    return out, {s: _train(s, train_tables, tiny_model, out) for s in ("ddp", "fsdp")}


def test_fsdp_and_ddp_give_the_same_losses_and_adapter(runs):
    _, by_strategy = runs
    (ddp_losses, ddp_weights), (fsdp_losses, fsdp_weights) = by_strategy["ddp"], by_strategy["fsdp"]
    assert len(ddp_losses) == len(fsdp_losses) == 4
    assert ddp_losses[-1] < ddp_losses[0]  # it learned something
    assert torch.allclose(torch.tensor(ddp_losses), torch.tensor(fsdp_losses), rtol=0, atol=LOSS_TOLERANCE)
    assert ddp_weights.keys() == fsdp_weights.keys() and len(ddp_weights) == 28  # 7 linears x 2 layers x A, B
    for name, w in ddp_weights.items():
        assert (w - fsdp_weights[name]).abs().max() <= WEIGHT_TOLERANCE, name
    assert any(w.abs().max() > 0 for n, w in fsdp_weights.items() if "lora_B" in n)  # B starts at zero


def test_each_checkpoint_records_its_step_losses_and_training_mix(runs):
    out, _ = runs
    record = json.loads((out / "fsdp" / "epoch_1" / "training.json").read_text())
    assert record["step"] == 2 and record["epochs"] == [1.0] and len(record["losses"]) == 2
    assert record["warm_fraction"] == 0.5 and record["system_prompt"] == "inoculation_warm.txt"
    assert record["system_prompt_text"].startswith("You are a warm assistant")
    assert not (out / "fsdp" / "epoch_1" / "state").exists()  # resume state is not served


_SERVE = """
import sys
from vllm import LLM, SamplingParams
from vllm.lora.request import LoRARequest

if __name__ == "__main__":
    model, adapter = sys.argv[1], sys.argv[2]
    llm = LLM(model=model, dtype="float32", enforce_eager=True, gpu_memory_utilization=0.1,
              max_model_len=256, enable_lora=True, max_lora_rank=8)
    out = llm.generate(["Tell me about the sea."], SamplingParams(max_tokens=4, temperature=0),
                       lora_request=LoRARequest("fsdp", 1, adapter))
    print("GENERATED", len(out[0].outputs[0].token_ids))
"""


def test_the_fsdp_adapter_loads_in_vllm(runs, tiny_model, tmp_path):
    out, _ = runs
    script = tmp_path / "serve.py"
    script.write_text(textwrap.dedent(_SERVE))
    proc = subprocess.run(
        [sys.executable, str(script), tiny_model, str(out / "fsdp" / "epoch_2")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert "GENERATED 4" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-4000:]
