"""Adapter parity with the real engine (vLLM CPU, in a Ray task) on the tiny random model."""

import shutil

import pytest
import ray
import torch
from safetensors.torch import load_file, save_file

from warmray.config import EngineConfig, RayConfig
from warmray.infer import engine_kwargs
from warmray.models import resolve_model
from warmray.runtime import ensure_ray
from warmray.stages.generate.parity import ParityError, adapter_parity

pytestmark = pytest.mark.slow
PROMPTS = ["What is the capital of France?", "Name a colour."]


@pytest.fixture(scope="module")
def adapters(tmp_path_factory):
    """A LoRA adapter that really moves the model, and a copy whose weights file was altered."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(resolve_model("builtin:tiny-random"))
    config = LoraConfig(
        r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False
    )
    model = get_peft_model(base, config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.mul_(20)  # large enough that ignoring the adapter would show
    root = tmp_path_factory.mktemp("adapters")
    model.save_pretrained(root / "good")
    shutil.copytree(root / "good", root / "altered")
    weights = load_file(root / "altered" / "adapter_model.safetensors")
    weights |= {k.replace("q_proj", "o_proj"): v * 5 for k, v in weights.items() if "q_proj" in k}
    save_file(weights, root / "altered" / "adapter_model.safetensors")
    return str(root / "good"), str(root / "altered")


@pytest.fixture(scope="module")
def local_ray():
    ensure_ray(RayConfig(num_cpus=8))
    yield
    ray.shutdown()


def test_parity_passes_for_a_served_adapter_and_fails_for_an_altered_one(local_ray, adapters):
    good, altered = adapters
    kwargs = engine_kwargs(EngineConfig(max_model_len=512, cpu_kvcache_gib=1), 8, 1)
    source = resolve_model("builtin:tiny-random")
    (parity,) = adapter_parity(source, [good], PROMPTS, kwargs, env={"VLLM_CPU_KVCACHE_SPACE": "1"})
    print(parity)  # the figures, in the test log
    assert parity.ok and 0 < parity.tokens <= 2 * 16
    assert parity.adapter_effect > 20 * parity.tolerance > 20 * parity.max_abs_diff
    with pytest.raises(ParityError, match="altered or written by another tool"):
        adapter_parity(source, [altered], PROMPTS, kwargs)
