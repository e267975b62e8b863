"""The engine actors' hooks: requests reach vLLM as FINAL_ONLY, and adapter requests behind base ones.

The engine's own answers are checked end to end (the tiny study reads the hooks' line in generate.log; the
interleaved-rows engine test serves base and adapter rows with priority scheduling); here the wrapped
methods are called with recorders in place of Ray's and vLLM's, which would need an engine.
"""

import asyncio
import importlib
from types import SimpleNamespace

import pytest
from ray.llm._internal.batch.stages.vllm_engine_stage import vLLMEngineWrapper
from vllm.sampling_params import RequestOutputKind, SamplingParams
from vllm.v1.engine.async_llm import AsyncLLM

from warmray.config import EngineConfig
from warmray.infer import engine_hooks, engine_kwargs, max_pending_requests


@pytest.fixture()
def recorder(monkeypatch):
    """Ray's request method and vLLM's add_request replaced (for this test only) by recorders."""
    seen = {"params": [], "added": []}

    async def record(self, request):
        seen["params"].append(request.params)
        return "the finished output"

    # The parameters warmray.compat checks that vLLM's add_request takes, as it takes them.
    async def add(self, request_id, prompt, params, lora_request=None, priority=0):
        seen["added"].append({"lora_request": lora_request, "priority": priority})
        return "the request's output collector"

    monkeypatch.setattr(vLLMEngineWrapper, "_generate_async", record)
    monkeypatch.setattr(AsyncLLM, "add_request", add)
    return seen


def engine(policy: str) -> SimpleNamespace:
    """Enough of an AsyncLLM for the hook: its scheduler's policy."""
    return SimpleNamespace(vllm_config=SimpleNamespace(scheduler_config=SimpleNamespace(policy=policy)))


def test_the_setup_hook_variable_names_install():
    (value,) = engine_hooks.setup_hook_env().values()
    module, name = value.rsplit(".", 1)
    assert getattr(importlib.import_module(module), name) is engine_hooks.install


def test_installed_generation_requests_ask_for_the_final_output_only(recorder, capsys):
    engine_hooks.install()
    params = SamplingParams(temperature=0.0, max_tokens=8)
    assert params.output_kind == RequestOutputKind.CUMULATIVE  # vLLM's default, which the stage leaves
    request = SimpleNamespace(params=params)
    result = asyncio.run(vLLMEngineWrapper._generate_async(object(), request))
    assert result == "the finished output"
    assert recorder["params"] == [params] and params.output_kind == RequestOutputKind.FINAL_ONLY
    assert engine_hooks.INSTALLED in capsys.readouterr().err


def test_adapter_requests_wait_behind_base_requests_where_the_engine_schedules_by_priority(recorder):
    engine_hooks.install()
    add = AsyncLLM.add_request
    # As AsyncLLM.generate calls it: the request's id, prompt and parameters, then keywords.
    assert asyncio.run(add(engine("priority"), "0", "a prompt", None, lora_request="warm", priority=0)) == (
        "the request's output collector"
    )
    asyncio.run(add(engine("priority"), "1", "a prompt", None, lora_request=None, priority=0))
    asyncio.run(add(engine("fcfs"), "2", "a prompt", None, lora_request="warm", priority=0))
    priorities = [kwargs["priority"] for kwargs in recorder["added"]]
    # vLLM refuses a priority other than 0 from an engine that does not schedule by priority.
    assert priorities == [engine_hooks.ADAPTER_PRIORITY, 0, 0] and engine_hooks.ADAPTER_PRIORITY > 0


def test_cpu_engines_serving_adapters_schedule_by_priority_and_others_first_come_first_served():
    assert engine_kwargs(EngineConfig(device="cpu"), 8, 1)["scheduling_policy"] == "priority"
    assert "scheduling_policy" not in engine_kwargs(EngineConfig(device="cpu"), None, 1)
    assert "scheduling_policy" not in engine_kwargs(EngineConfig(device="gpu"), 8, 1)


def test_install_wraps_once_and_leaves_other_requests_alone(recorder, capsys):
    engine_hooks.install()
    wrapped, added = vLLMEngineWrapper._generate_async, AsyncLLM.add_request
    engine_hooks.install()
    assert vLLMEngineWrapper._generate_async is wrapped and AsyncLLM.add_request is added
    assert capsys.readouterr().err == engine_hooks.INSTALLED + "\n"  # the wrapped targets still check
    pooling = SimpleNamespace(output_kind="whatever the pooling request had")
    asyncio.run(wrapped(object(), SimpleNamespace(params=pooling)))
    assert recorder["params"] == [pooling] and pooling.output_kind == "whatever the pooling request had"


def test_an_engine_scheduling_by_priority_is_handed_every_row_its_actor_holds():
    # Ray's default cap (1.1 x max_num_seqs) would queue the rest first come, first served.
    assert max_pending_requests(engine_kwargs(EngineConfig(device="cpu"), 8, 1)) >= 100_000
    assert max_pending_requests(engine_kwargs(EngineConfig(device="cpu"), None, 1)) is None
    assert max_pending_requests(engine_kwargs(EngineConfig(device="gpu"), 8, 1)) is None


def test_a_moved_target_installs_neither_hook_and_says_so_in_one_line(recorder, monkeypatch, capsys):
    monkeypatch.delattr(AsyncLLM, "add_request")
    generate = vLLMEngineWrapper._generate_async
    engine_hooks.install()
    assert vLLMEngineWrapper._generate_async is generate
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "AsyncLLM.add_request" in err and "Traceback" not in err
    assert engine_hooks.INSTALLED not in err


def test_an_engine_whose_scheduler_cannot_be_read_keeps_its_requests_priority(recorder):
    engine_hooks.install()
    add = AsyncLLM.add_request
    asyncio.run(add(SimpleNamespace(), "0", "a prompt", None, lora_request="warm", priority=0))
    assert [kwargs["priority"] for kwargs in recorder["added"]] == [0]
