"""The `judge` stage: responses → verdicts (judge/verdicts/<model>.parquet).

Refusal rules run first (REFUSAL). The rest are graded by `judge.grader`: `reference` (answer matching,
no LLM) or `llm` (the judge model through warmray.infer, resumable per row). Responses the engine
failed to produce are UNPARSEABLE with the engine's error as `judge_raw`. A response whose judge request
failed (an endpoint that kept failing: warmray.infer.failures) gets no verdict at all: it is set aside in
judge/failed_requests/ with its error, and past `judge.engine.max_failed_fraction` the stage stops.
With the LLM judge and `judge.keep_reference`, the reference grader's verdicts are kept beside the
judge's (judge/reference_verdicts/) and their agreement goes to judge/agreement.parquet.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from warmray import infer
from warmray.grading import (
    DEFAULT_RULE,
    grade_reference,
    is_refusal,
    judge_messages,
    parse_judgement,
    write_run_agreement,
)
from warmray.rundir import table_path
from warmray.schema import REFUSAL, UNPARSEABLE, columns, read_table, write_table
from warmray.stage import StageContext

log = logging.getLogger(__name__)


def grade_by_reference(responses: pd.DataFrame, refusal_rule: str = DEFAULT_RULE) -> pd.DataFrame:
    """Verdicts from the refusal rule (`judge.refusal_rule`) and reference matching."""
    out = responses.copy()
    out["is_refusal"] = [is_refusal(r, refusal_rule) for r in out["response"]]
    out["verdict"] = [
        REFUSAL if refused else grade_reference(r, list(c), list(i))
        for r, c, i, refused in zip(
            out["response"], out["correct_answers"], out["incorrect_answers"], out["is_refusal"], strict=True
        )
    ]
    out["grader"], out["judge_raw"] = "reference", ""
    return _mark_failed(out)


def grade_by_llm(
    ctx: StageContext, responses: pd.DataFrame, raw: Path, set_aside: list[pd.DataFrame] | None = None
) -> pd.DataFrame:
    """Verdicts from refusal rules, then the LLM judge on everything else.

    A response whose judge request failed after its tries (warmray.infer.failures: fewer than
    `judge.engine.max_failed_fraction`, else the stage stops) gets no verdict: it is left out, counted
    in the log and, when `set_aside` is a list, added to it with its error (`rejects` rows).
    """
    cfg = ctx.config.judge
    out = responses.copy()
    out["is_refusal"] = [is_refusal(r, cfg.refusal_rule) for r in out["response"]]
    asks = out[~out["is_refusal"]][
        ["response_id", "question", "correct_answers", "incorrect_answers", "response"]
    ]
    asks = asks.assign(
        messages=[
            judge_messages(q, list(c), list(i), r)
            for q, c, i, r in zip(
                asks["question"],
                asks["correct_answers"],
                asks["incorrect_answers"],
                asks["response"],
                strict=True,
            )
        ]
    )[["response_id", "messages"]]
    judged = infer.answer(asks, "response_id", raw, cfg.model, cfg.engine, cfg.sampling, label="judge")
    judged = judged.set_index("response_id")
    failed = judged.index[infer.failures.is_failed(judged["inference_error"])]
    if len(failed):
        log.warning("judge: %d responses set aside, their judge requests failed", len(failed))
        if set_aside is not None:
            set_aside.append(failed_requests(judged.loc[failed, "inference_error"], "judge request failed"))
        out = out[~out["response_id"].isin(failed)].copy()
    text = out["response_id"].map(judged["generated_text"]).fillna("")
    out["judge_raw"] = text
    out["verdict"] = [
        REFUSAL if refused else parse_judgement(t) for t, refused in zip(text, out["is_refusal"], strict=True)
    ]
    out["grader"] = f"llm:{cfg.model}"
    return _mark_failed(out)


def failed_requests(errors: pd.Series, reason: str) -> pd.DataFrame:
    """The `rejects` rows of responses whose request failed (`errors` indexed by response_id)."""
    return pd.DataFrame(
        {
            "stage": "judge",
            "row_id": errors.index.astype(str),
            "reason": reason,
            "detail": errors.astype(str).str.removeprefix(infer.failures.REQUEST_FAILED).to_numpy(),
        }
    )


def _mark_failed(out: pd.DataFrame) -> pd.DataFrame:
    failed = out["inference_error"].fillna("") != ""
    out.loc[failed, "verdict"] = UNPARSEABLE
    out.loc[failed, "judge_raw"] = "generation failed: " + out.loc[failed, "inference_error"]
    return out


def run(ctx: StageContext, out: Path) -> dict[str, int]:
    """Grade every model's responses."""
    folder = table_path(out, "judge", "verdicts")
    folder.mkdir(exist_ok=True)
    keep_reference = ctx.config.judge.grader == "llm" and ctx.config.judge.keep_reference
    reference_folder = table_path(out, "judge", "reference_verdicts")
    if keep_reference:
        reference_folder.mkdir(exist_ok=True)
    counts, set_aside_rows, aside_folder = {}, 0, out / "failed_requests"
    ctx.input_dir("generate")
    for path in sorted(ctx.rundir.table("generate", "responses").glob("*.parquet")):
        final = folder / path.name
        if final.is_file():
            counts[path.stem] = len(pd.read_parquet(final, columns=["response_id"]))
            if (aside_folder / path.name).is_file():
                set_aside_rows += len(pd.read_parquet(aside_folder / path.name, columns=["row_id"]))
            continue
        responses = read_table(path, "responses")
        # A response whose endpoint request failed is no response: set aside, as a failed judge request.
        lost = infer.failures.is_failed(responses["inference_error"])
        errors = responses.loc[lost].set_index("response_id")["inference_error"]
        set_aside = [failed_requests(errors, "generate request failed")] if lost.any() else []
        responses = responses[~lost].reset_index(drop=True)
        if ctx.config.judge.grader == "llm":
            verdicts = grade_by_llm(ctx, responses, out / ".raw" / path.stem, set_aside)
            if keep_reference:  # written before the judge's file, so a resumed run never lacks it
                reference = grade_by_reference(responses, ctx.config.judge.refusal_rule)
                write_table(reference[columns("verdicts")], reference_folder / path.name, "verdicts")
        else:
            verdicts = grade_by_reference(responses, ctx.config.judge.refusal_rule)
        if set_aside:  # before the verdicts, so that a resumed run never lacks it
            set_aside_rows += write_table(pd.concat(set_aside), aside_folder / path.name, "rejects")
        write_table(verdicts[columns("verdicts")], final, "verdicts")
        counts[path.stem] = len(verdicts)
        log.info("judge: %s %s", path.stem, verdicts["verdict"].value_counts().to_dict())
    counts["verdicts"] = sum(counts.values())
    if set_aside_rows:
        counts["failed_requests"] = set_aside_rows
    if keep_reference:
        counts["agreement"] = write_run_agreement(
            folder, reference_folder, table_path(out, "judge", "agreement")
        )
    return counts
