"""Engine actors ask vLLM for each request's final output only, as vLLM's own offline `LLM` class does.

ray.data.llm's engine stage (Ray 2.60) awaits each request's output stream and keeps only the finished
output, but builds its `vllm.SamplingParams` with vLLM's default output kind, CUMULATIVE: the engine's
front end, in the actor's process, then builds an output (text and token ids so far) for every running
request at every decode step, all of them thrown away. FINAL_ONLY builds one per request. On CPU, where
that front end shares the cores the model decodes on, the generate stage went from 52.7 to 68.6 generated
tokens/s (benchmarks/bench_generate.py, two runs back to back; raw vLLM 84 tokens/s in both).

The output kind is an enum, which a row's `sampling_params` (an Arrow column) cannot carry, and
ray.data.llm has no setting for it; so `install` sets it on the engine stage's requests, in each engine
actor's process, where Ray runs it before the actor starts (`setup_hook_env`). If an upgrade of Ray or
vLLM moves what it wraps, it says so in the stage's log and changes nothing: the stage stays correct,
only slower.
"""

from __future__ import annotations

import sys
from typing import Any

_HOOK = f"{__name__}.install"
_MARK = "_warmray_final_only"
INSTALLED = "warmray: engine requests ask vLLM for final outputs only"


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
    """Make the engine stage's requests FINAL_ONLY in this process (once; a no-op if it cannot)."""
    try:
        from ray.llm._internal.batch.stages.vllm_engine_stage import vLLMEngineWrapper
        from vllm.sampling_params import RequestOutputKind, SamplingParams

        original = vLLMEngineWrapper._generate_async
    except Exception as e:  # an exception here would stop the worker, and with it the engine
        print(f"warmray: engine requests keep vLLM's default output kind ({e!r})", file=sys.stderr)
        return
    if getattr(original, _MARK, False):
        return

    async def final_only(self: Any, request: Any) -> Any:
        # The wrapped method reads the request's stream until it finishes and returns that last output.
        if isinstance(request.params, SamplingParams):
            request.params.output_kind = RequestOutputKind.FINAL_ONLY
        return await original(self, request)

    setattr(final_only, _MARK, True)
    vLLMEngineWrapper._generate_async = final_only
    print(INSTALLED, file=sys.stderr)
