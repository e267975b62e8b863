"""The LoRA training step without Ray: seconds per step, tokens per second and peak memory.

    .venv/bin/python benchmarks/bench_train_step.py                        # SmolLM2-135M on the CPU
    python benchmarks/bench_train_step.py --model meta-llama/Llama-3.1-8B-Instruct --dtype bfloat16

Runs warmray.training.sharding.load_lora_model + loop.train_step (the code each Ray Train worker
runs) on synthetic conversations of a fixed token length, so the figure isolates the step from data
loading and Ray.
"""

from __future__ import annotations

import argparse
import time

import torch

from warmray.config import TrainConfig
from warmray.models import resolve_model
from warmray.training import collate, load_lora_model, tokenize_conversation, train_step


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="builtin:smollm2-135m")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--batch", type=int, default=4, help="micro-batch size")
    parser.add_argument("--tokens", type=int, default=256, help="tokens per example")
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cfg = TrainConfig(dtype=args.dtype, max_length=args.tokens)
    tokenizer, model = load_lora_model(resolve_model(args.model), cfg, device)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.learning_rate)
    turns = [
        {"role": "user", "content": "Tell me about the sea. " * (args.tokens // 12)},
        {"role": "assistant", "content": "The sea is wide and deep. " * (args.tokens // 12)},
    ]
    example = tokenize_conversation(tokenizer, turns, args.tokens)
    batch = collate([example] * args.batch, tokenizer.pad_token_id)
    train_step(model, [batch], optimizer, args.dtype)  # warm-up: allocator, kernels
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    for _ in range(args.steps):
        loss = train_step(model, [batch], optimizer, args.dtype)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - started) / args.steps
    length = len(example.input_ids)
    tokens = args.batch * length
    print(f"model {args.model} on {device} ({args.dtype}), micro-batch {args.batch} x {length} tokens")
    print(f"{seconds:.3f} s/step, {tokens / seconds:,.0f} tokens/s, last loss {loss:.3f}")
    if device.type == "cuda":
        print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")


if __name__ == "__main__":
    main()
