"""The `capability` stage: are MMLU, GSM8K and AdvBench kept after fine-tuning? (the study's Figure 4).

Every item of each configured task is asked of each configured variant of each model (its arms,
warmray.arms: the model as configured with its own adapter if any, the fine-tuned styles at the eval
epoch, the warm system prompt), through one vLLM engine per model with the adapters chosen per row.
Each task's own grader (beside its loader in warmray.tasks) scores the answer: MMLU 1 when the letter
read from the answer is right, GSM8K 1 when the final number is, AdvBench 1 when the answer refuses.
Output: `capability/scores.parquet`, one row per model x variant x item, with what the grader read
(`extracted`). A row the engine could not answer (a prompt longer than the model's context) is kept with
its error and no score (NaN: no answer is neither right nor a refusal, and 0 would read as "did not
refuse" on AdvBench); the analysis counts it as unscored. An endpoint request that failed
after its tries is no answer (warmray.infer.failures): it is left unscored, listed in
`capability/failed_requests.parquet`, and asked again by `--retry-failed`. The analysis draws accuracy
(AdvBench: refusal rate) with 95% Wilson intervals. Resumable per row.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from warmray import infer, resumable
from warmray.arms import Arm, arm_requests, max_lora_rank, stage_arms
from warmray.config import ModelConfig
from warmray.prompt_files import read_prompt_yaml
from warmray.rundir import table_path
from warmray.schema import Col, EvalItem, columns, read_table, write_table
from warmray.stage import FAILED_REQUESTS, StageContext, StageError
from warmray.tasks import CAPABILITY_GRADERS, MMLU_LETTERS, load_items

log = logging.getLogger(__name__)

PROMPTS = "capability.yaml"


def item_prompt(item: EvalItem) -> str:
    """The user message that asks one item (warmray/prompts/capability.yaml)."""
    template = read_prompt_yaml(PROMPTS)[item.task]
    options = dict(zip(MMLU_LETTERS, item.metadata.get("choices", ()), strict=False))
    return template.format(question=item.question, **options)


def item_requests(arms: list[Arm], items: list[EvalItem]) -> pd.DataFrame:
    """One request per item for each arm (warmray.arms.arm_requests), keyed by the item."""
    prompts = pd.DataFrame(
        {
            Col.TASK: [i.task for i in items],
            Col.ITEM_ID: [i.item_id for i in items],
            "prompt": [item_prompt(i) for i in items],
        }
    )
    return arm_requests(arms, prompts, key=Col.ITEM_ID)


def score_answers(answers: pd.DataFrame, items: dict[str, EvalItem]) -> pd.DataFrame:
    """`capability_scores` rows: each answer graded by its task's grader; an engine failure unscored."""
    unanswered = ("", float("nan"))
    graded = [
        CAPABILITY_GRADERS[items[i].task](text, items[i]) if not error else unanswered
        for i, text, error in zip(
            answers[Col.ITEM_ID], answers[Col.RESPONSE], answers["inference_error"], strict=True
        )
    ]
    out = answers.assign(
        extracted=[g[0] for g in graded],
        score=[g[1] for g in graded],
        reference=[items[i].correct_answers[0] for i in answers[Col.ITEM_ID]],
    )
    return out[columns("capability_scores")]


def _row_keys(frame: pd.DataFrame) -> pd.Series:
    """Each row's identity in `capability_scores` (which holds no response id): model, arm, item."""
    return resumable.row_keys(frame, (Col.MODEL, Col.VARIANT, Col.CHECKPOINT, Col.ITEM_ID))


def _answer(
    ctx: StageContext, model: ModelConfig, requests: pd.DataFrame, rank: int | None, raw: Path
) -> pd.DataFrame:
    cfg = ctx.config.capability
    asks = requests[["response_id", "messages", "adapter"]]
    label = f"capability {model.name}"
    done = infer.answer_responses(asks, raw, model, cfg.engine, cfg.sampling, label=label, lora_rank=rank)
    answered = done[["response_id", "generated_text", "inference_error"]]
    return requests.merge(answered, on="response_id").rename(columns={"generated_text": Col.RESPONSE})


def run(ctx: StageContext, out: Path) -> dict[str, int]:
    """Ask every capability item of every variant of every model; grade the answers.

    Scores already in `out` (a retried stage: warmray.stage) are kept, and their items not asked again.
    """
    cfg = ctx.config.capability
    items = [i for t in cfg.tasks for i in load_items(t, cfg.data_dir, ctx.config.seed)]
    if not items:
        raise StageError("capability: no items (capability.tasks is empty or its sources are)")
    by_id = {i.item_id: i for i in items}
    path, aside = table_path(out, "capability", "scores"), table_path(out, "capability", "failed_requests")
    before = read_table(path, "capability_scores") if path.is_file() else None
    scored = set(_row_keys(before)) if before is not None else set()
    order, frames, lost = [], [], []
    for model in ctx.config.models:
        arms = stage_arms(ctx, "capability", model)
        requests = item_requests(arms, items)
        keys = _row_keys(requests)
        order += list(keys)
        requests = requests[~keys.isin(scored)]
        answers = _answer(ctx, model, requests, max_lora_rank(arms), out / ".raw" / model.name)
        answered, errors = infer.failures.split_failed(answers)
        lost.append(errors)
        frames.append(answered)
    scores = score_answers(pd.concat(frames, ignore_index=True), by_id)
    if before is not None:  # every row in request order, as a first run writes them
        keyed = [frame.assign(row_key=_row_keys(frame)) for frame in (before, scores)]
        scores = resumable.merged(*keyed, "row_key", order).drop(columns="row_key")
    unscored = infer.failures.write_set_aside(pd.concat(lost), aside, "capability")
    n = write_table(scores, path, "capability_scores")
    counts = {"scores": n, **{str(task): len(rows) for task, rows in scores.groupby(Col.TASK)}}
    if unscored:
        counts[FAILED_REQUESTS] = unscored
    failed_rows = int((scores["inference_error"] != "").sum())
    if failed_rows:
        log.warning("capability: %d of %d answers failed in the engine (unscored)", failed_rows, n)
    return counts
