"""Placement: each vLLM replica asks Ray for one bundle per tensor-parallel worker, packed on one node."""

from __future__ import annotations

import ray.data.llm

from warmray import infer
from warmray.config import EngineConfig, SamplingConfig


def _placement(monkeypatch, engine: EngineConfig) -> dict:
    seen = {}

    def config(**kwargs):
        seen.update(kwargs)
        return kwargs

    monkeypatch.setattr(ray.data.llm, "vLLMEngineProcessorConfig", config)
    monkeypatch.setattr(ray.data.llm, "build_processor", lambda cfg, **_: cfg)
    monkeypatch.setattr(infer, "resolve_model", lambda source: source)
    infer._vllm_processor("org/model", engine, SamplingConfig(), [], None, 1)
    return seen["placement_group_config"]


def test_a_tensor_parallel_gpu_engine_is_strict_packed_on_one_node(monkeypatch):
    engine = EngineConfig(device="gpu", dtype="bfloat16", tensor_parallel_size=4)
    expected = {"bundles": [{"GPU": 1, "CPU": 1}] * 4, "strategy": "STRICT_PACK"}
    assert _placement(monkeypatch, engine) == expected


def test_a_cpu_engine_asks_for_one_cpu(monkeypatch):
    assert _placement(monkeypatch, EngineConfig()) == {"bundles": [{"CPU": 1}], "strategy": "STRICT_PACK"}
