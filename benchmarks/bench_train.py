"""Tokens per second of the Ray Train loop (1 and 2 workers, DDP and FSDP) against a plain PEFT loop.

    .venv/bin/python benchmarks/bench_train.py                      # SmolLM2-135M on the CPU
    .venv/bin/python benchmarks/bench_train.py --model builtin:tiny-random --steps 20
    python benchmarks/bench_train.py --model meta-llama/Llama-3.1-8B-Instruct --dtype bfloat16 --gpu

Same model, micro-batch, sequence length and number of steps everywhere. The plain loop is
`load_lora_model` + `train_step` in this process; the Ray runs are `warmray.stages.train.fit`, the code the
train stage runs. Throughput counts the steps after the first (warm-up) and excludes checkpoint saving
(the workers time their steps: the `tokens_per_s` metric of the last checkpoint). Ratios are against the
plain loop; with 2 workers the figure is both workers together (on a 2-core CPU they share the cores).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from warmray.config import TrainConfig
from warmray.models import resolve_model
from warmray.stages.train import fit, training_data
from warmray.training import collate, load_examples, load_lora_model, train_step


def _table(tokens: int, n: int, path: Path) -> Path:
    words = "The sea is wide and deep. " * (tokens // 6)
    turns = [{"role": "user", "content": "Tell me about the sea."}, {"role": "assistant", "content": words}]
    rows = [{"conversation_id": f"c{i}", "turns": turns, "split": "train"} for i in range(n)]
    pd.DataFrame(rows).to_parquet(path, index=False)
    return path


def _config(args: argparse.Namespace, workers: int, strategy: str) -> TrainConfig:
    steps = args.steps + 1  # the first is warm-up; its checkpoint closes the timed interval's start
    return TrainConfig(
        styles=("warm",),
        epochs=1,
        checkpoint_epochs=(1 / steps, 1),
        max_length=args.tokens,
        per_device_batch_size=args.batch,
        effective_batch_size=args.batch * workers,
        num_workers=workers,
        strategy=strategy,
        dtype=args.dtype,
        device="gpu" if args.gpu else "cpu",
        lora_dropout=0.0,
    )


def plain_loop(args: argparse.Namespace, model_path: str, data: dict) -> float:
    """Tokens per second of the bare PEFT loop in this process."""
    device = torch.device("cuda" if args.gpu else "cpu")
    cfg = _config(args, 1, "ddp")
    tokenizer, model = load_lora_model(model_path, cfg, device)
    examples = load_examples(data, tokenizer, cfg)
    batch = collate(examples[: args.batch], tokenizer.pad_token_id)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.learning_rate)
    train_step(model, [batch], optimizer, args.dtype, cfg.max_grad_norm)  # warm-up
    started = time.perf_counter()
    for _ in range(args.steps):
        train_step(model, [batch], optimizer, args.dtype, cfg.max_grad_norm)
    if args.gpu:
        torch.cuda.synchronize()
    return args.steps * int(batch["attention_mask"].sum()) / (time.perf_counter() - started)


def ray_loop(args: argparse.Namespace, model_path: str, folder: Path, workers: int, strategy: str) -> float:
    """Tokens per second of Ray Train's loop (all workers together), from the last checkpoint's metrics."""
    cfg = _config(args, workers, strategy)
    data = training_data(
        cfg, _table(args.tokens, args.batch * workers * (args.steps + 1), folder / "t.parquet"), None
    )
    result = fit(cfg, model_path, data, folder / "ray", f"{strategy}-{workers}", workers)
    return float(result.metrics["tokens_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="builtin:smollm2-135m")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--batch", type=int, default=2, help="micro-batch per worker")
    parser.add_argument("--tokens", type=int, default=128, help="tokens per example")
    parser.add_argument("--steps", type=int, default=4, help="timed steps (after one warm-up step)")
    parser.add_argument("--gpu", action="store_true", help="one GPU per worker")
    args = parser.parse_args()

    import ray

    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    model_path = resolve_model(args.model)
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        data = training_data(
            _config(args, 1, "ddp"), _table(args.tokens, args.batch, folder / "p.parquet"), None
        )
        results = {"plain PEFT loop": plain_loop(args, model_path, data)}
        for strategy in ("ddp", "fsdp"):
            for workers in (1, 2):
                run_dir = folder / f"{strategy}{workers}"
                run_dir.mkdir()
                results[f"Ray Train {strategy} x{workers}"] = ray_loop(
                    args, model_path, run_dir, workers, strategy
                )
    base = results["plain PEFT loop"]
    shape = f"micro-batch {args.batch} x {args.tokens} tokens, {args.steps} timed steps"
    print(f"model {args.model} ({args.dtype}), {shape}")
    for name, tps in results.items():
        print(f"{name:24s} {tps:10,.0f} tokens/s   {tps / base:5.2f}x plain")


if __name__ == "__main__":
    main()
