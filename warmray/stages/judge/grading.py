"""The `judge` stage: responses → verdicts (judge/verdicts/<model>.parquet), by warmray.grading.

Refusal rules run first (REFUSAL). The rest are graded by the grader named `judge.grader`
(warmray.grading's registry: `reference` answer matching, or the `llm` judge through warmray.infer,
resumable per row). Responses the engine failed to produce are UNPARSEABLE with the engine's error as
`judge_raw`. A response whose request failed (an endpoint that kept failing: warmray.infer.failures),
to generate it or to judge it, gets no verdict at all: it is set aside in judge/failed_requests/ with
its error, and past `judge.engine.max_failed_fraction` the stage stops. When the grader keeps the
reference grader's verdicts beside its own (`judge.keep_reference`), they go to
judge/reference_verdicts/ and their agreement to judge/agreement.parquet.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from warmray import infer, resumable
from warmray.grading import grade, keeps_reference, write_run_agreement
from warmray.rundir import table_path
from warmray.schema import Col, columns, read_table, write_table
from warmray.stage import FAILED_REQUESTS, StageContext

log = logging.getLogger(__name__)


def run(ctx: StageContext, out: Path) -> dict[str, int]:
    """Grade every model's responses.

    A model is finished when its verdicts are written and nothing of it is set aside; otherwise (a
    resumed or a retried stage: warmray.stage) its verdicts are kept and only its responses without one
    are graded again, so that only the failed requests are sent again.
    """
    folder = table_path(out, "judge", "verdicts")
    folder.mkdir(exist_ok=True)
    keep_reference = keeps_reference(ctx.config.judge)
    reference_folder = table_path(out, "judge", "reference_verdicts")
    if keep_reference:
        reference_folder.mkdir(exist_ok=True)
    counts, set_aside_rows, aside_folder = {}, 0, table_path(out, "judge", "failed_requests")
    ctx.input_dir("generate")
    for path in sorted(ctx.rundir.table("generate", "responses").glob("*.parquet")):
        final, aside = folder / path.name, aside_folder / path.name
        if final.is_file() and not aside.is_file():
            counts[path.stem] = len(pd.read_parquet(final, columns=["response_id"]))
            continue
        verdicts, set_aside = _grade_model(
            read_table(path, "responses"), ctx, out / ".raw" / path.stem, final, reference_folder / path.name
        )
        if set_aside is not None:  # before the verdicts, so that a resumed run never lacks it
            set_aside_rows += write_table(set_aside, aside, "rejects")
        write_table(verdicts[columns("verdicts")], final, "verdicts")
        if set_aside is None:
            aside.unlink(missing_ok=True)
        counts[path.stem] = len(verdicts)
        log.info("judge: %s %s", path.stem, verdicts[Col.VERDICT].value_counts().to_dict())
    counts["verdicts"] = sum(counts.values())
    if set_aside_rows:
        counts[FAILED_REQUESTS] = set_aside_rows
    if keep_reference:
        counts["agreement"] = write_run_agreement(
            folder, reference_folder, table_path(out, "judge", "agreement")
        )
    return counts


def _grade_model(
    responses: pd.DataFrame, ctx: StageContext, scratch: Path, final: Path, reference: Path
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """One model's verdicts (those already in `final` kept) and its set-aside rows (None when none).

    The reference verdicts, when kept, are written to `reference` here (merged with those it holds).
    """
    before = read_table(final, "verdicts") if final.is_file() else None
    order = responses["response_id"]
    if before is not None:
        responses = responses[~responses["response_id"].isin(before["response_id"])]
    # A response whose endpoint request failed is no response: set aside, as a failed judge request.
    responses, errors = infer.failures.split_failed(responses)
    set_aside = [infer.failures.set_aside(errors, "judge", "generate request failed")] if len(errors) else []
    verdicts = before
    if len(responses) or before is None:
        graded = grade(responses, ctx.config.judge, scratch)
        if len(graded.failed):
            set_aside.append(infer.failures.set_aside(graded.failed, "judge", "judge request failed"))
        if graded.reference is not None:  # written before the judge's file, so a resumed run never lacks it
            write_table(_merged(graded.reference, reference, order), reference, "verdicts")
        verdicts = _merged(graded.verdicts, final, order)
    return verdicts, pd.concat(set_aside) if set_aside else None


def _merged(new: pd.DataFrame, path: Path, order: pd.Series) -> pd.DataFrame:
    """`new` verdicts with those `path` already holds for other responses, in the responses' order."""
    new = new[columns("verdicts")]
    if not path.is_file():
        return new
    return resumable.merged(read_table(path, "verdicts"), new, "response_id", order)
