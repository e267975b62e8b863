"""Time the full analysis at the study's scale: 500,000 verdict rows, read from Parquet, to report.

.venv/bin/python benchmarks/bench_analysis.py                      # 500k rows, target < 60 s
.venv/bin/python benchmarks/bench_analysis.py --length-covariate   # GLMs on one row per answer
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

from warmray.config import AnalyzeConfig
from warmray.stages.analyze import analyze, load_verdict_files
from warmray.statistics import (
    SyntheticEffects,
    synthetic_capability,
    synthetic_verdicts,
    synthetic_warmth,
)

MODELS = ("llama-3.1-8b", "mistral-small", "qwen-2.5-32b", "llama-3.1-70b")
TASKS = ("triviaqa", "truthfulqa", "medqa", "disinformation")
EFFECTS = SyntheticEffects(
    finetune={"warm": 0.35},
    context_interaction={"emotion:sad": 0.25},
    belief_main=0.6,
    belief_interaction=0.15,
    task_offsets={"disinformation": -1.0, "medqa": 0.3},
)


def main(argv: list[str] | None = None) -> float:
    """Run the benchmark; returns the seconds the load and analysis took."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=500_000, help="verdict rows (about; whole items)")
    parser.add_argument("--length-covariate", action="store_true", help="add response length to the GLMs")
    args = parser.parse_args(argv)
    per_task = math.ceil(args.rows / (len(MODELS) * len(TASKS) * 28 * 2))
    verdicts = synthetic_verdicts(MODELS, TASKS, per_task, effects=EFFECTS, seed=0, refusal_rate=0.02)
    # Plain string columns, as the judge stage writes them (categoricals would flatter the timing).
    verdicts = verdicts.astype({c: str for c in verdicts.columns if verdicts[c].dtype == "category"})
    with tempfile.TemporaryDirectory() as tmp:
        shards = Path(tmp) / "verdicts"
        shards.mkdir()
        for i in range(0, len(verdicts), 100_000):  # shards, like the judge stage writes
            verdicts.iloc[i : i + 100_000].to_parquet(shards / f"part-{i // 100_000:03d}.parquet")
        started = time.perf_counter()
        loaded = load_verdict_files([shards])
        read = time.perf_counter() - started
        counts = analyze(
            loaded,
            Path(tmp) / "analyze",
            config=AnalyzeConfig(length_covariate=args.length_covariate),
            run_info={"models": {m: "synthetic" for m in MODELS}, "judge": "synthetic verdicts"},
            warmth=synthetic_warmth(MODELS, per_checkpoint=1500),
            capability=synthetic_capability(MODELS, n_items=1000),
        )
        total = time.perf_counter() - started
    print(
        f"analysed {len(loaded):,} verdict rows in {total:.1f} s (read {read:.1f} s, analysis and report "
        f"{total - read:.1f} s; length covariate {'on' if args.length_covariate else 'off'})"
    )
    print(f"tables: {counts}")
    return total


if __name__ == "__main__":
    main()
