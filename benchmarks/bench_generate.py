"""Generated tokens per second: the generate stage (Ray Data + vLLM, LoRA per row) against raw vLLM.

Both sides answer the same prompts (the built-in demo items, repeated), half with a LoRA adapter and
half without, with the same model, sampling and engine arguments (`warmray.infer.engine_kwargs`). Raw
vLLM gets every request in one `LLM.chat` call, the rows without the adapter first; the stage hands
its one engine the rows in the same order, and its engine takes them first (`warmray.infer.base_rows_first`
and `warmray.infer.engine_hooks` say why). Start-up is excluded from both:

- raw vLLM: `vllm.LLM(...)` is built first; only the `LLM.chat` call is timed;
- the stage: its engine starts inside Ray Data, within the timed call, so the stage runs twice, on a few
  prompts and on all of them, each in a fresh run directory with a fresh engine; its rate is the extra
  tokens over the extra seconds, and the start-up, common to both runs, cancels. A first run on a few
  prompts, not measured, pays beforehand what only a process's first stage pays. (Reading the rate off
  its output shards does not work: the engine answers every block at once and the shards land together.)

    .venv/bin/python benchmarks/bench_generate.py                        # SmolLM2-135M, CPU
    .venv/bin/python benchmarks/bench_generate.py --prompts 512 --max-tokens 128 --device gpu
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import pandas as pd
import ray

from warmray.config import EngineConfig, ExperimentConfig
from warmray.infer import cpu_threads, engine_env, engine_kwargs
from warmray.models import resolve_model
from warmray.rundir import RunDir
from warmray.runtime import ensure_ray
from warmray.schema import columns, write_table
from warmray.stage import StageContext

STYLE = "warm"
EPOCH = 1.0


def make_adapter(source: str, folder: Path, rank: int) -> None:
    """A LoRA adapter with non-zero random weights (a fresh one would be the identity)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(source)
    config = LoraConfig(r=rank, lora_alpha=2 * rank, target_modules="all-linear", init_lora_weights=False)
    get_peft_model(base, config).save_pretrained(folder)


def grid_rows(n: int) -> pd.DataFrame:
    """n prompts in the grid's columns, from the built-in demo items."""
    from warmray.config import TaskSource
    from warmray.tasks import load_items

    items = load_items(TaskSource(name="demo"))
    rows = []
    for i in range(n):
        item = items[i % len(items)]
        row = {c: "" for c in columns("prompts")} | {"question_form": "as_given"}
        row |= {
            "prompt_id": f"bench:{i}|original|unmodified",
            "item_id": f"bench:{i}",
            "task": "demo",
            "prompt_template": "original",
            "amendment_type": "unmodified",
            "prompt": f"{item.question} (question {i})",
            "question": item.question,
            "correct_answers": list(item.correct_answers),
            "incorrect_answers": list(item.incorrect_answers),
        }
        rows.append({k: v for k, v in row.items() if k in columns("prompts")})
    return pd.DataFrame(rows)


def fake_run_dir(root: Path, prompts: pd.DataFrame, model: str, source: str, rank: int) -> None:
    """A run directory whose grid and train stages look finished, so the generate stage can run."""
    run = RunDir(root)
    write_table(prompts, run.table("grid", "prompts"), "prompts")
    make_adapter(source, run.adapter(model, STYLE, EPOCH), rank)
    for stage in ("grid", "train"):
        (run.stage(stage) / "manifest.json").write_text(json.dumps({"stage": stage, "output_id": "bench"}))


def stage_run(config: ExperimentConfig, root: Path, prompts: pd.DataFrame, source: str) -> tuple[int, float]:
    """(generated tokens, wall seconds incl. start-up) of the generate stage on `prompts`, in `root`."""
    from warmray.stages.generate import run

    fake_run_dir(root, prompts, config.models[0].name, source, config.train.lora_r)
    out = root / ".generate.partial"
    out.mkdir()
    started = time.perf_counter()
    run(StageContext(config, root), out)
    wall = time.perf_counter() - started
    tokens = sum(
        int(pd.read_parquet(p)["num_generated_tokens"].sum()) for p in (out / ".raw").rglob("*.parquet")
    )
    return tokens, wall


def raw_rate(config: ExperimentConfig, prompts: pd.DataFrame, adapter: Path) -> tuple[float, int, float]:
    """(tokens/s, tokens, start-up seconds) of raw vllm.LLM.chat on the same rows and settings."""
    import torch
    from vllm import LLM, SamplingParams
    from vllm.lora.request import LoRARequest

    gen = config.generate
    kwargs = engine_kwargs(gen.engine, config.train.lora_r, 1, gen.sampling.seed)
    # torch read OMP_NUM_THREADS when it was imported, before main() set the engine's environment.
    torch.set_num_threads(cpu_threads(gen.engine))
    started = time.perf_counter()
    llm = LLM(resolve_model(config.models[0].source), **kwargs)
    startup = time.perf_counter() - started
    sampling = gen.sampling
    params = SamplingParams(
        temperature=sampling.temperature, top_p=sampling.top_p, max_tokens=sampling.max_tokens
    )
    lora = LoRARequest("warm", 1, str(adapter))
    # The stage's rows: every prompt once without the adapter (original) and once with it (warm).
    messages = [[{"role": "user", "content": p}] for p in prompts["prompt"]] * 2
    requests = [None] * len(prompts) + [lora] * len(prompts)
    started = time.perf_counter()
    outs = llm.chat(messages, params, lora_request=requests, use_tqdm=False)
    seconds = time.perf_counter() - started
    tokens = sum(len(o.outputs[0].token_ids) for o in outs)
    return tokens / seconds, tokens, startup


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="builtin:smollm2-135m")
    parser.add_argument(
        "--prompts", type=int, default=192, help="grid prompts (each answered twice: base, adapter)"
    )
    parser.add_argument("--few-prompts", type=int, default=8, help="the short run whose time is start-up")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-num-seqs", type=int, default=EngineConfig().max_num_seqs)
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument(
        "--cpu-threads", type=int, help="a CPU engine's OpenMP threads (default: every CPU of the machine)"
    )
    args = parser.parse_args()
    engine = EngineConfig(
        device=args.device,  # float32 and eager on CPU, bfloat16 and CUDA graphs on GPU (device_defaults)
        batch_size=args.batch_size,
        max_model_len=1024,
        max_num_seqs=args.max_num_seqs,
        cpu_threads=args.cpu_threads,
    )
    config = ExperimentConfig.model_validate(
        {
            "models": [{"name": "bench", "source": args.model}],
            "device": args.device,
            "train": {"lora_r": 8, "checkpoint_epochs": [EPOCH], "epochs": EPOCH},
            "evaluate": {"epoch": EPOCH},
            "generate": {
                "variants": ["original", STYLE],
                "engine": engine.model_dump(),
                "sampling": {"temperature": 0.0, "max_tokens": args.max_tokens, "seed": 0},
                "parity_prompts": 0,  # its own engine start is not generation
            },
        }
    )
    os.environ.update(engine_env(engine))  # the raw engine runs here: the stage's engine environment
    prompts = grid_rows(args.prompts)
    source = resolve_model(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        few, full = Path(tmp) / "few", Path(tmp) / "full"
        ensure_ray(config.ray)
        # A first run, not measured, pays what only the process's first stage pays (the driver importing
        # vLLM and Ray Data's LLM stages, Ray starting its first workers, cold files; benchmarks/RESULTS.md),
        # which would otherwise count as generation time in whichever measured run came first.
        stage_run(config, Path(tmp) / "warm-up", prompts.head(args.few_prompts), source)
        stage_tokens, stage_wall = stage_run(config, full, prompts, source)
        few_tokens, few_wall = stage_run(config, few, prompts.head(args.few_prompts), source)
        ray.shutdown()  # the raw engine runs in this process: nothing of the stage's may share the cores
        raw, raw_tokens, raw_start = raw_rate(config, prompts, RunDir(full).adapter("bench", STYLE, EPOCH))
    stage = (stage_tokens - few_tokens) / (stage_wall - few_wall)
    print(
        f"model {args.model}, {2 * args.prompts} requests (half with a LoRA adapter), "
        f"<= {args.max_tokens} new tokens, batch {args.batch_size}, max_num_seqs {args.max_num_seqs}, "
        f"{args.device}" + (f", {cpu_threads(engine)} engine threads" if args.device == "cpu" else "") + "\n"
        f"raw vllm.LLM.chat: {raw:8.1f} generated tokens/s ({raw_tokens} tokens; "
        f"start {raw_start:.0f} s excluded)\n"
        f"generate stage:    {stage:8.1f} generated tokens/s ({stage_tokens} tokens in {stage_wall:.0f} s, "
        f"less {few_tokens} tokens in {few_wall:.0f} s on {args.few_prompts} prompts: start-up cancels)\n"
        f"ratio stage / raw: {stage / raw:8.2f}"
    )


if __name__ == "__main__":
    main()
