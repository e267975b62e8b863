"""Generated tokens per second: the generate stage (Ray Data + vLLM, LoRA per row) against raw vLLM.

Both sides answer the same prompts (the built-in demo items, repeated), half with a LoRA adapter and
half without, with the same model, sampling and engine arguments (`warmray.infer.engine_kwargs`).
Start-up is excluded from both:

- raw vLLM: `vllm.LLM(...)` is built first; only the `LLM.chat` call is timed;
- the stage: its engine starts inside Ray Data, so the rate is taken from its output shards as they are
  written: the tokens of every shard after the first, over the time from the first shard to the last
  (the first shard's wait holds the start-up).

    .venv/bin/python benchmarks/bench_generate.py                        # SmolLM2-135M, CPU
    .venv/bin/python benchmarks/bench_generate.py --prompts 512 --max-tokens 128 --device gpu
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

from warmray.config import EngineConfig, ExperimentConfig
from warmray.infer import engine_env, engine_kwargs
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


def stage_rate(config: ExperimentConfig, root: Path) -> tuple[float, int, float]:
    """(steady tokens/s, tokens, wall seconds incl. start-up) of the generate stage."""
    from warmray.stages.generate import run

    out = root / ".generate.partial"
    out.mkdir()
    started = time.perf_counter()
    run(StageContext(config, root), out)
    wall = time.perf_counter() - started
    files = (out / ".raw").rglob("*.parquet")
    shards = sorted((p.stat().st_mtime, int(pd.read_parquet(p)["num_generated_tokens"].sum())) for p in files)
    if len(shards) < 2:
        raise SystemExit("the stage wrote one shard only: raise --prompts so its steady rate can be measured")
    tokens = sum(t for _, t in shards[1:])
    return tokens / (shards[-1][0] - shards[0][0]), sum(t for _, t in shards), wall


def raw_rate(config: ExperimentConfig, prompts: pd.DataFrame, adapter: Path) -> tuple[float, int, float]:
    """(tokens/s, tokens, start-up seconds) of raw vllm.LLM.chat on the same rows and settings."""
    from vllm import LLM, SamplingParams
    from vllm.lora.request import LoRARequest

    gen = config.generate
    kwargs = engine_kwargs(gen.engine, config.train.lora_r, 1, gen.sampling.seed)
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
    del llm  # its engine processes would compete with the stage's engine for the same cores
    gc.collect()
    return tokens / seconds, tokens, startup


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="builtin:smollm2-135m")
    parser.add_argument(
        "--prompts", type=int, default=96, help="grid prompts (each answered twice: base, adapter)"
    )
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    args = parser.parse_args()
    dtype = "float32" if args.device == "cpu" else "bfloat16"
    engine = EngineConfig(device=args.device, dtype=dtype, batch_size=args.batch_size, max_model_len=1024)
    config = ExperimentConfig.model_validate(
        {
            "models": [{"name": "bench", "source": args.model}],
            "train": {"lora_r": 8, "checkpoint_epochs": [EPOCH], "epochs": EPOCH, "eval_epoch": EPOCH},
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
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fake_run_dir(root, prompts, "bench", resolve_model(args.model), 8)
        raw, raw_tokens, raw_start = raw_rate(config, prompts, RunDir(root).adapter("bench", STYLE, EPOCH))
        ensure_ray(config.ray)
        stage, stage_tokens, stage_wall = stage_rate(config, root)
    print(
        f"model {args.model}, {2 * args.prompts} requests (half with a LoRA adapter), "
        f"<= {args.max_tokens} new tokens, batch {args.batch_size}, {args.device}\n"
        f"raw vllm.LLM.chat: {raw:8.1f} generated tokens/s ({raw_tokens} tokens; "
        f"start {raw_start:.0f} s excluded)\n"
        f"generate stage:    {stage:8.1f} generated tokens/s (steady; {stage_tokens} tokens, "
        f"wall {stage_wall:.0f} s incl. start-up)\n"
        f"ratio stage / raw: {stage / raw:8.2f}"
    )


if __name__ == "__main__":
    main()
