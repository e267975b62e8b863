"""The engine stage's requests reach vLLM as FINAL_ONLY once the engine actors' setup hook has run.

The engine's own answers are checked end to end (the tiny study reads the hook's line in generate.log);
here the wrapped request path is called with a recorder in place of Ray's method, which would need an
engine.
"""

import asyncio
import importlib
from types import SimpleNamespace

import pytest
from ray.llm._internal.batch.stages.vllm_engine_stage import vLLMEngineWrapper
from vllm.sampling_params import RequestOutputKind, SamplingParams

from warmray.infer import final_only


@pytest.fixture()
def recorder(monkeypatch):
    """Ray's request method replaced (for this test only) by one that records what it was given."""
    seen = []

    async def record(self, request):
        seen.append(request.params)
        return "the finished output"

    monkeypatch.setattr(vLLMEngineWrapper, "_generate_async", record)
    return seen


def test_the_setup_hook_variable_names_install():
    (value,) = final_only.setup_hook_env().values()
    module, name = value.rsplit(".", 1)
    assert getattr(importlib.import_module(module), name) is final_only.install


def test_installed_generation_requests_ask_for_the_final_output_only(recorder, capsys):
    final_only.install()
    params = SamplingParams(temperature=0.0, max_tokens=8)
    assert params.output_kind == RequestOutputKind.CUMULATIVE  # vLLM's default, which the stage leaves
    request = SimpleNamespace(params=params)
    result = asyncio.run(vLLMEngineWrapper._generate_async(object(), request))
    assert result == "the finished output"
    assert recorder == [params] and params.output_kind == RequestOutputKind.FINAL_ONLY
    assert final_only.INSTALLED in capsys.readouterr().err


def test_install_wraps_once_and_leaves_other_requests_alone(recorder):
    final_only.install()
    wrapped = vLLMEngineWrapper._generate_async
    final_only.install()
    assert vLLMEngineWrapper._generate_async is wrapped
    pooling = SimpleNamespace(output_kind="whatever the pooling request had")
    asyncio.run(wrapped(object(), SimpleNamespace(params=pooling)))
    assert recorder == [pooling] and pooling.output_kind == "whatever the pooling request had"
