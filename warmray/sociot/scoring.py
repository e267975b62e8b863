"""SocioT on Ray Data: scorer actors that load the causal LM once and score batches of texts.

Scoring runs transformers on Ray Data actors, not vLLM prompt log-probabilities: both published
procedures (warmray.sociot.measure) take a batch loss over padded prompts with the pad tokens
(id 0) inside the labels, and the earlier one runs in train mode (dropout on, 100 passes), which vLLM
cannot compute (it serves in eval mode and never sees pad tokens). The scorer is small (GPT-2 small in
the study), so forward passes per side are cheap next to generation.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import ray

from warmray.config import WarmthConfig
from warmray.infer import cpu_threads
from warmray.runtime import normal_priority
from warmray.sociot.measure import load_scorer, sociot

SCORE_COLUMNS = ("warm_score", "cold_score", "warmth")


def score_texts(model: Any, tokenizer: Any, texts: list[str], cfg: WarmthConfig) -> pd.DataFrame:
    """Warm, cold and warmth values of each text, in order."""
    found = [sociot(model, tokenizer, t, cfg.procedure, cfg.max_chars, cfg.seed) for t in texts]
    return pd.DataFrame(
        {
            "warm_score": [s.warm for s in found],
            "cold_score": [s.cold for s in found],
            "warmth": [s.warmth for s in found],
        }
    )


class SocioTScorer:
    """A Ray Data actor: adds SocioT columns to batches with a `text` column."""

    def __init__(self, cfg: WarmthConfig, threads: int | None = None) -> None:
        """Load the scorer model once per actor; on CPU, run it on `threads` torch threads."""
        if threads:
            import torch

            # Ray starts an actor with OMP_NUM_THREADS=1: torch would score on one core of the machine.
            torch.set_num_threads(threads)
        self.cfg = cfg
        self.model, self.tokenizer = load_scorer(cfg.scorer, "cuda" if cfg.device == "gpu" else "cpu")

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        """The batch with warm_score, cold_score and warmth added."""
        scores = score_texts(self.model, self.tokenizer, batch["text"].astype(str).tolist(), self.cfg)
        return pd.concat([batch.reset_index(drop=True), scores], axis=1)


def score_dataset(ds: ray.data.Dataset, cfg: WarmthConfig) -> ray.data.Dataset:
    """The dataset (with a `text` column) with SocioT columns added, scored by `cfg.concurrency` actors.

    A CPU scorer runs on as many threads as the stage's engine decodes with (`warmth.engine.cpu_threads`,
    warmray.infer.cpu_threads): the scoring pass starts after the answers are written, when the engine
    has left those cores free, and a text scores faster on all of them than on Ray's one
    (benchmarks/RESULTS.md).
    """
    if cfg.device == "gpu":
        resources, threads = {"num_gpus": 1}, None
    else:  # the engine's threads, and a normal niceness: scoring is the same kind of work, on the same cores
        priority = {"runtime_env": {"env_vars": normal_priority(True)}}
        resources, threads = {"num_cpus": 1, **priority}, cpu_threads(cfg.engine)
    return ds.map_batches(
        SocioTScorer,
        fn_constructor_kwargs={"cfg": cfg, "threads": threads},
        batch_size=cfg.batch_size,
        batch_format="pandas",
        compute=ray.data.ActorPoolStrategy(size=cfg.concurrency),
        **resources,
    )
