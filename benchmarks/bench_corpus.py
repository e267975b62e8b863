"""Throughput of the corpus stage at full size: the 3,000-conversation ShareGPT sample, default settings.

Prints input rows per second for the whole stage (read, clean, toxicity filter, categorize, sample,
split, write Parquet), the time of each step, and a linear projection for the ~90k conversations of
the full ShareGPT file (every step is linear in the number of rows, apart from sorting ids).

    .venv/bin/python benchmarks/bench_corpus.py                  # ../shared/data sample
    .venv/bin/python benchmarks/bench_corpus.py --source FILE.json --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from warmray.config import ExperimentConfig
from warmray.stage import StageContext
from warmray.stages.corpus import run
from warmray.stages.corpus.build import clean_all, drop_toxic
from warmray.stages.corpus.categories import categorize
from warmray.stages.corpus.sources import iter_records
from warmray.stages.corpus.toxicity import make_filter

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared/data/sharegpt/ShareGPT_V3_unfiltered_cleaned_split.first3000.json"
FULL_SIZE = 90_000


def whole_stage(config: ExperimentConfig) -> tuple[float, dict[str, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        rows = run(StageContext(config, Path(tmp)), Path(tmp))
        return time.perf_counter() - started, rows


def steps(config: ExperimentConfig, source: Path) -> dict[str, float]:
    times = {}
    started = time.perf_counter()
    records = list(iter_records(source))
    times["read"] = time.perf_counter() - started
    started = time.perf_counter()
    cleaned, _, _ = clean_all(records, config.corpus.max_turns)
    times["clean"] = time.perf_counter() - started
    started = time.perf_counter()
    usable, _ = drop_toxic(cleaned, make_filter(config.corpus.toxicity), config.corpus.toxicity.threshold)
    times["toxicity"] = time.perf_counter() - started
    started = time.perf_counter()
    for conversation in usable:
        categorize(conversation.turns)
    times["categorize"] = time.perf_counter() - started
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.source.is_file():
        raise SystemExit(f"{args.source}: not found (see ../shared/data/README.txt)")
    models = [{"name": "bench", "source": "builtin:tiny-random"}]
    config = ExperimentConfig.model_validate({"models": models, "corpus": {"source": str(args.source)}})
    n_input = sum(1 for _ in iter_records(args.source))
    runs = [whole_stage(config) for _ in range(args.repeat)]
    seconds = statistics.median(t for t, _ in runs)
    rate = n_input / seconds
    print(f"source: {args.source.name}, {n_input} input rows, toxicity: {config.corpus.toxicity.kind}")
    print(f"output rows: {runs[0][1]}")
    print(f"corpus stage: {seconds:.2f} s (median of {args.repeat}) = {rate:,.0f} input rows/s")
    print("steps: " + ", ".join(f"{k} {v:.2f} s" for k, v in steps(config, args.source).items()))
    print(f"projection for ~{FULL_SIZE:,} conversations: {FULL_SIZE / rate:,.0f} s (linear)")


if __name__ == "__main__":
    main()
