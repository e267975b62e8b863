"""Rows per second of the grid stage at the study's full size.

    .venv/bin/python benchmarks/bench_grid.py [--data-dir ../shared/data] [--repeat 3]

Loads 500 TriviaQA (if present), 500 TruthfulQA, 500 MedQA and all 125 MASK items from a data folder
laid out like the published sets, builds their 28 variants and writes grid/prompts.parquet; reports the
whole stage (load + build + write) and the row-building step alone, best of --repeat runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from warmray.config import ExperimentConfig
from warmray.stage import StageContext
from warmray.stages.grid import build as grid
from warmray.tasks import load_items

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / ".." / "shared" / "data")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    names = ["truthfulqa", "medqa", "disinformation"]
    if (args.data_dir / "triviaqa" / "test.jsonl").is_file():
        names.insert(0, "triviaqa")
    cfg = ExperimentConfig.model_validate(
        {
            "models": [{"name": "bench", "source": "builtin:tiny-random"}],
            "grid": {"tasks": [{"name": n} for n in names], "data_dir": str(args.data_dir.resolve())},
        }
    )
    stage_s, counts = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            start = time.perf_counter()
            counts = grid.run(StageContext(cfg, Path(tmp)), Path(tmp))
            stage_s.append(time.perf_counter() - start)
    items = [it for t in cfg.grid.tasks for it in load_items(t, cfg.grid.data_dir, cfg.seed)]
    build_s = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        rows = grid.build_grid(
            items, cfg.grid.prompt_templates, cfg.grid.amendment_types, grid.load_contexts(), 0
        )
        build_s.append(time.perf_counter() - start)
    print(f"tasks: {', '.join(names)}; items: {counts['items']}; prompts: {counts['prompts']}")
    rate = counts["prompts"] / min(stage_s)
    print(f"grid stage (load + build + write): {min(stage_s):.2f} s, {rate:,.0f} rows/s")
    print(f"build_grid alone: {min(build_s):.2f} s, {len(rows) / min(build_s):,.0f} rows/s")


if __name__ == "__main__":
    main()
