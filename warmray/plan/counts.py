"""Row counts of each stage from the config alone (pure: no data is read)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from warmray.arms import list_arms
from warmray.config import ExperimentConfig
from warmray.rundir import RunDir
from warmray.schema import prompt_variants

# Items in each benchmark's published evaluation split, for tasks sampled with n: all (or the study's
# "all items" default). Sources: the published sets' row counts, and the triviaqa dataset card.
BENCHMARK_ITEMS = {
    "demo": 48,
    "triviaqa": 17944,  # mandarjoshi/trivia_qa rc.nocontext validation
    "truthfulqa": 817,
    "medqa": 1273,
    "disinformation": 125,
    "mmlu": 14042,
    "gsm8k": 1319,
    "advbench": 520,
}


@dataclass(frozen=True)
class Counts:
    """Rows each stage makes or consumes."""

    conversations: int
    train_conversations: int
    val_prompts: int
    assistant_turns: int
    items: dict[str, int]
    variants_per_item: int
    prompts: int
    wrong_answer_calls: int
    responses_per_model: int
    sociot_responses_per_model: int
    capability_items: dict[str, int]
    capability_rows_per_model: int


def task_items(name: str, sample: int | None) -> int:
    """Items a task contributes: its sample size, capped by the benchmark's size."""
    full = BENCHMARK_ITEMS[name]
    return full if sample is None else min(sample, full)


def count_rows(cfg: ExperimentConfig, assistant_turns_per_conversation: float) -> Counts:
    """Rows of every stage for one config (an estimate where data decides, e.g. turns per conversation)."""
    n = cfg.corpus.n_conversations
    train = n  # the whole sample trains (spares replace failed rewrites); held-out prompts come from outside
    items = {t.name: task_items(t.name, t.sample_size()) for t in cfg.grid.tasks}
    per_item = len(prompt_variants(cfg.grid.prompt_templates, cfg.grid.amendment_types))
    prompts = sum(items.values()) * per_item
    # Who answers, per model (every model has the same arms): the warmth curve's are the model itself
    # and every checkpoint of each style.
    rundir = RunDir(Path(cfg.run_dir))
    arms = {e: len(list_arms(cfg, e, rundir, cfg.models[0])) for e in ("generate", "capability", "warmth")}
    val_prompts = min(cfg.warmth.n_prompts or cfg.corpus.max_val_prompts, cfg.corpus.max_val_prompts)
    capability = {t.name: task_items(t.name, t.sample_size()) for t in cfg.capability.tasks}
    return Counts(
        conversations=n,
        train_conversations=train,
        val_prompts=val_prompts,
        assistant_turns=round(n * assistant_turns_per_conversation),
        items=items,
        variants_per_item=per_item,
        prompts=prompts,
        wrong_answer_calls=items.get("triviaqa", 0) if cfg.grid.wrong_answer_model else 0,
        responses_per_model=prompts * arms["generate"],
        sociot_responses_per_model=val_prompts * arms["warmth"],
        capability_items=capability,
        capability_rows_per_model=sum(capability.values()) * arms["capability"],
    )
