"""What warmray changes inside the engine actors: two hooks on ray.data.llm's vLLM engine stage.

Ray runs `install` in each engine actor's process before the actor starts (`setup_hook_env`). Neither
hook changes an answer; each makes the stage's engine do what vLLM's own offline `LLM` class does with the
same rows, which ray.data.llm has no setting for. What they wrap is private to Ray and vLLM, so they reach
it through warmray.compat, which names each target with the versions it was written for.

- **Final outputs only.** The stage awaits each request's output stream and keeps only the finished
  output, but builds its `vllm.SamplingParams` with vLLM's default output kind, CUMULATIVE: the engine's
  front end then builds an output (text and token ids so far) for every running request at every decode
  step, all thrown away. FINAL_ONLY builds one per request; on a small CPU machine, where that front end
  shares the cores the model decodes on, the stage decodes faster (benchmarks/bench_generate.py). The
  output kind is an enum, which a row's `sampling_params` (an Arrow column) cannot carry.
- **The base model's requests before the adapters'.** vLLM's CPU LoRA ops run for every token of a step
  as soon as one of its tokens has an adapter (`warmray.infer.base_rows_first` says why that costs), so
  the engine should take the base model's rows first, as raw `LLM.chat` does with its list in that order.
  The stage hands the engine its rows sorted so, but Ray Data runs several blocks in an engine actor at
  once and their rows reach the engine interleaved, so adapter rows join the base rows' prefill chunks.
  Where the engine schedules by priority (`scheduling_policy="priority"`, which `engine_kwargs` sets for
  CPU engines serving adapters), a request with an adapter gets priority 1 and waits behind every waiting
  request without one (0), and the actor hands the engine every row it holds
  (`warmray.infer.max_pending_requests`). Ray Data's stage has no per-row priority (vLLM's `priority`
  argument), so the hook sets it where the engine's front end adds a request.

If an upgrade of Ray or vLLM moves what a hook wraps, `install` says so in one line of the stage's log and
installs neither hook: the stage stays correct, only slower.
"""

from __future__ import annotations

import sys
from typing import Any

from warmray import compat, progress

ADAPTER_PRIORITY = 1  # vLLM runs lower values first; a request's default is 0
INSTALLED = "warmray: engine requests ask vLLM for final outputs only, the base model's first"
_PLAIN = "engine requests left as Ray and vLLM make them"


def setup_hook_env() -> dict[str, str]:
    """The environment variable by which Ray runs `install` in an engine actor's process as it starts."""
    return compat.setup_hook_env(f"{__name__}.install")


def schedules_by_priority(engine: Any) -> bool:
    """Whether a vLLM AsyncLLM schedules its waiting requests by priority (False if it cannot tell)."""
    scheduler = getattr(getattr(engine, "vllm_config", None), "scheduler_config", None)
    return getattr(scheduler, "policy", None) == "priority"


def install() -> None:
    """Install both hooks in this process, once; neither, with one line in the log, if a target moved."""
    try:
        for target in (
            compat.ENGINE_REQUEST,
            compat.ENGINE_CONFIG,
            compat.VLLM_CONFIG,
            compat.SCHEDULER_CONFIG,
        ):
            compat.resolve(target)
        sampling_params = compat.resolve(compat.SAMPLING_PARAMS)
        final_only_kind = compat.resolve(compat.FINAL_ONLY)
        compat.resolve(compat.GENERATE_ASYNC)
        compat.resolve(compat.ADD_REQUEST)
    except compat.Moved as e:  # an exception here would stop the worker, and with it the engine
        print(compat.moved_line(e, _PLAIN), file=sys.stderr)
        return

    def final_only(generate: Any) -> Any:
        async def wrapper(self: Any, request: Any) -> Any:
            # The wrapped method reads the request's stream until it finishes and returns that last output.
            if isinstance(request.params, sampling_params):
                request.params.output_kind = final_only_kind
            output = await generate(self, request)
            progress.request_finished(output)  # the stage's progress line moves request by request
            return output

        return wrapper

    def adapters_after_base(add_request: Any) -> Any:
        async def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            # vLLM refuses a priority unless the engine schedules by priority; engine_kwargs says when.
            if kwargs.get("lora_request") is not None and schedules_by_priority(self):
                kwargs["priority"] = ADAPTER_PRIORITY
            return await add_request(self, *args, **kwargs)

        return wrapper

    wrapped = [
        compat.wrap(compat.GENERATE_ASYNC, final_only),
        compat.wrap(compat.ADD_REQUEST, adapters_after_base),
    ]
    if any(wrapped):
        print(INSTALLED, file=sys.stderr)
