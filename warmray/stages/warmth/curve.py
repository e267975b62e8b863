"""The warmth curve: how warm each checkpoint sounds, by SocioT (the study's Figure 1).

The held-out prompts (corpus `val_prompts`) are answered by the original model (as configured: with its
own adapter if it has one) and by every checkpoint of every trained style (the warmth arms of
warmray.arms; one vLLM engine per model, the adapters chosen per row), and every response is
scored by SocioT on Ray Data actors (warmray.sociot.scoring). Output: `warmth/scores.parquet`
(one row per model x style x epoch x prompt; the original model is epoch 0 of every style's curve) and
`warmth/by_epoch.parquet` (mean, SD and 95% CI per model, style and epoch). Both the answers and the
scores are resumable per row. An answer the engine could not give is left unscored (logged); an endpoint
request that failed after its tries is listed in `warmth/failed_requests.parquet` and asked again by
`--retry-failed`, which keeps every score already written.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import ray

from warmray import infer, resumable
from warmray.arms import Arm, arm_requests, max_lora_rank, stage_arms
from warmray.config import ModelConfig
from warmray.rundir import table_path
from warmray.schema import NO_CHECKPOINT, Col, columns, read_table, write_table
from warmray.sociot import SCORE_COLUMNS, score_dataset
from warmray.stage import FAILED_REQUESTS, StageContext, StageError
from warmray.statistics import warmth_table

log = logging.getLogger(__name__)


def checkpoint_requests(arms: list[Arm], prompts: pd.DataFrame) -> pd.DataFrame:
    """One request per (arm, prompt), with the arm's training style and epoch (0 for the model itself)."""
    parts = [
        arm_requests([arm], prompts[["prompt_id", "prompt"]]).assign(
            **{Col.STYLE: arm.style, Col.EPOCH: arm.epoch or 0.0}
        )
        for arm in arms
    ]
    return pd.concat(parts, ignore_index=True)


def score_rows(answers: pd.DataFrame, styles: tuple[str, ...]) -> pd.DataFrame:
    """Scored answers as `warmth_scores` rows: the original model's copied into every style at epoch 0."""
    tuned = answers[answers[Col.STYLE] != ""]
    base = answers[answers[Col.STYLE] == ""]
    rows = [tuned, *(base.assign(style=s, epoch=0.0) for s in styles)]
    return pd.concat(rows, ignore_index=True)


def _own_style(frame: pd.DataFrame) -> pd.Series:
    """The style each answer belongs to: "" for the original model's (copied into every style's curve)."""
    return frame[Col.STYLE].where(frame[Col.CHECKPOINT] != NO_CHECKPOINT, "")


def answer_keys(frame: pd.DataFrame) -> pd.Series:
    """Each answer's identity in requests and `warmth_scores` rows: model, own style, checkpoint, prompt."""
    own = frame.assign(**{Col.STYLE: _own_style(frame)})
    return resumable.row_keys(own, (Col.MODEL, Col.STYLE, Col.CHECKPOINT, "prompt_id"))


def kept_answers(scores: pd.DataFrame) -> pd.DataFrame:
    """Scored answers of `warmth_scores` rows, each once (the original model's taken out of the styles)."""
    own = scores.assign(**{Col.STYLE: _own_style(scores)})
    own = own.drop(columns=["procedure", "scorer"])  # the same for every row: set when the table is written
    return own.assign(key=answer_keys(own)).drop_duplicates("key")


def _answer(
    ctx: StageContext, requests: pd.DataFrame, model: ModelConfig, rank: int | None, raw: Path
) -> pd.DataFrame:
    cfg = ctx.config.warmth
    asks = requests[["response_id", "messages", "adapter"]]
    done = infer.answer_responses(
        asks, raw, model, cfg.engine, cfg.sampling, label=f"warmth {model.name}", lora_rank=rank
    )
    return requests.drop(columns=["messages"]).merge(
        done[["response_id", "generated_text", "inference_error"]], on="response_id"
    )


def _score(ctx: StageContext, answers: pd.DataFrame, raw: Path) -> pd.DataFrame:
    if answers.empty:  # a retry whose every answer of this model was kept
        return answers.assign(**{c: pd.Series(dtype=float) for c in SCORE_COLUMNS})
    texts = answers[["response_id", "generated_text"]].rename(columns={"generated_text": "text"})
    todo = resumable.remaining(texts, "response_id", raw)
    if len(todo):
        score_dataset(ray.data.from_pandas(todo), ctx.config.warmth).write_parquet(str(raw))
    scores = resumable.collect(raw, "response_id", texts["response_id"])
    return answers.merge(scores[["response_id", *SCORE_COLUMNS]], on="response_id")


def run(ctx: StageContext, out: Path) -> dict[str, int]:
    """Answer the held-out prompts with every checkpoint and score the answers' warmth.

    Scores already in `out` (a retried stage: warmray.stage) are kept, and their prompts not asked again.
    """
    cfg = ctx.config.warmth
    prompts = ctx.read("corpus", "val_prompts")
    prompts = prompts.head(cfg.n_prompts) if cfg.n_prompts else prompts
    if prompts.empty:
        raise StageError("warmth: corpus has no val_prompts (corpus.max_val_prompts is 0?)")
    path, aside = table_path(out, "warmth", "scores"), table_path(out, "warmth", "failed_requests")
    kept = kept_answers(read_table(path, "warmth_scores")) if path.is_file() else None
    order, frames, lost = [], [], []
    for model in ctx.config.models:
        arms = stage_arms(ctx, "warmth", model)
        requests = checkpoint_requests(arms, prompts)
        keys = answer_keys(requests)
        order += list(keys)
        if kept is not None:
            requests = requests[~keys.isin(kept["key"])]
        answers = _answer(ctx, requests, model, max_lora_rank(arms), out / ".raw" / "answers" / model.name)
        answered, errors = infer.failures.split_failed(answers)
        lost.append(errors)
        failed = answered["inference_error"] != ""  # the engine could not answer: unscored
        if failed.any():
            log.warning("warmth: %d of %d answers failed in the engine, unscored", failed.sum(), len(answers))
        frames.append(_score(ctx, answered[~failed], out / ".raw" / "scores" / model.name))
    scored = pd.concat(frames, ignore_index=True).rename(columns={"generated_text": Col.RESPONSE})
    if kept is not None:  # every answer in request order, as a first run writes them
        scored = resumable.merged(kept, scored.assign(key=answer_keys(scored)), "key", order)
    unscored = infer.failures.write_set_aside(pd.concat(lost), aside, "warmth")
    scores = score_rows(scored, ctx.config.train.styles).assign(procedure=cfg.procedure, scorer=cfg.scorer)
    n = write_table(scores[columns("warmth_scores")], path, "warmth_scores")
    curve = write_table(warmth_table(scores), table_path(out, "warmth", "by_epoch"), "warmth_by_epoch")
    return {"scores": n, "by_epoch": curve} | ({FAILED_REQUESTS: unscored} if unscored else {})
