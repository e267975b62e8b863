"""What warmray changes inside the engine actors: two hooks on ray.data.llm's vLLM engine stage.

Ray runs `install` in each engine actor's process before the actor starts (`setup_hook_env`). Neither
hook changes an answer; each makes the stage's engine do what vLLM's own offline `LLM` class does with the
same rows, which ray.data.llm (Ray 2.60) has no setting for:

- **Final outputs only.** The stage awaits each request's output stream and keeps only the finished
  output, but builds its `vllm.SamplingParams` with vLLM's default output kind, CUMULATIVE: the engine's
  front end then builds an output (text and token ids so far) for every running request at every decode
  step, all thrown away. FINAL_ONLY builds one per request. On 2 CPU cores, where that front end shares the
  cores the model decodes on, the generate stage went from 52.7 to 68.6 generated tokens/s
  (benchmarks/bench_generate.py; raw vLLM 84). The output kind is an enum, which a row's
  `sampling_params` (an Arrow column) cannot carry.
- **The base model's requests before the adapters'.** vLLM's CPU LoRA ops run for every token of a step
  as soon as one of its tokens has an adapter (`warmray.infer.base_rows_first` says why that costs), so
  the engine should take the base model's rows first, as raw `LLM.chat` does with its list in that order.
  The stage hands the engine its rows sorted so, but Ray Data runs several blocks in an engine actor at
  once and their rows reach the engine interleaved: adapter rows then joined the base rows' prefill
  chunks, each such chunk paying the LoRA ops for all its tokens. Where the engine schedules by priority
  (`scheduling_policy="priority"`, which `engine_kwargs` sets for CPU engines serving adapters), a request
  with an adapter gets priority 1 and waits behind every waiting request without one (0), and the actor
  hands the engine every row it holds (`warmray.infer.max_pending_requests`). Logged step by step (192
  rows, half with an adapter, 2 cores), the stage's engine then ran raw `LLM.chat`'s schedule: the base
  rows' prefill chunks free of LoRA, where before adapter rows joined the second chunk and that step
  took 13.9 s instead of 3.3 s.
  Ray Data's stage has no per-row priority (vLLM's `priority` argument), so the hook sets it where the
  engine's front end adds a request.

If an upgrade of Ray or vLLM moves what a hook wraps, it says so in the stage's log and changes nothing:
the stage stays correct, only slower.
"""

from __future__ import annotations

import sys
from typing import Any

from warmray import progress

_HOOK = f"{__name__}.install"
_MARK = "_warmray_hook"
ADAPTER_PRIORITY = 1  # vLLM runs lower values first; a request's default is 0
INSTALLED = "warmray: engine requests ask vLLM for final outputs only, the base model's first"


def setup_hook_env() -> dict[str, str]:
    """The environment variable by which Ray runs `install` in a worker process as it starts.

    Ray's `worker_process_setup_hook` field is honoured only for a whole job (`ray.init`); in an actor's
    runtime_env it is ignored. What that field becomes on the way to a worker is this variable, which an
    actor's `env_vars` reach directly. Empty if this Ray has no such variable.
    """
    from ray._private import ray_constants

    name = getattr(ray_constants, "WORKER_PROCESS_SETUP_HOOK_ENV_VAR", None)
    return {name: _HOOK} if name else {}


def install() -> None:
    """Install both hooks in this process, once; neither (with a line in the log) if one has no target."""
    try:
        from ray.llm._internal.batch.stages.vllm_engine_stage import vLLMEngineWrapper
        from vllm.sampling_params import RequestOutputKind, SamplingParams
        from vllm.v1.engine.async_llm import AsyncLLM

        generate, add_request = vLLMEngineWrapper._generate_async, AsyncLLM.add_request
    except Exception as e:  # an exception here would stop the worker, and with it the engine
        print(f"warmray: engine requests left as Ray and vLLM make them ({e!r})", file=sys.stderr)
        return
    if getattr(generate, _MARK, False):
        return

    async def final_only(self: Any, request: Any) -> Any:
        # The wrapped method reads the request's stream until it finishes and returns that last output.
        if isinstance(request.params, SamplingParams):
            request.params.output_kind = RequestOutputKind.FINAL_ONLY
        output = await generate(self, request)
        progress.request_finished(output)  # the stage's progress line moves request by request
        return output

    async def adapters_after_base(self: Any, *args: Any, **kwargs: Any) -> Any:
        # vLLM refuses a priority unless the engine schedules by priority; engine_kwargs says when it does.
        if kwargs.get("lora_request") is not None and self.vllm_config.scheduler_config.policy == "priority":
            kwargs["priority"] = ADAPTER_PRIORITY
        return await add_request(self, *args, **kwargs)

    for wrapper in (final_only, adapters_after_base):
        setattr(wrapper, _MARK, True)
    vLLMEngineWrapper._generate_async = final_only
    AsyncLLM.add_request = adapters_after_base
    print(INSTALLED, file=sys.stderr)
