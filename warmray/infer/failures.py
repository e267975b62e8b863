"""Failed requests: an endpoint request that failed after its tries is neither an answer nor final.

Such a row is written with the rest (so the stage's progress counts it) with an empty answer and
`inference_error` starting with REQUEST_FAILED. It is its own state: the judge sets it aside instead of
reading a verdict into it, and at the next attempt of the stage `reopen` takes it out of the written
rows so that only the failed requests are sent again. A stage whose failed share exceeds
`engine.max_failed_fraction` stops (`RequestsFailed`, exit 2) with what succeeded kept; under it the stage
finishes with them set aside, and `--retry-failed` asks them again (warmray.stage).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from warmray.errors import UserError
from warmray.schema import write_table

log = logging.getLogger(__name__)

REQUEST_FAILED = "request failed: "
LOGGED = 50  # failed requests logged one by one; the rest are counted


class RequestsFailed(UserError):
    """More of a stage's endpoint requests failed than the stage allows."""


def is_failed(errors: pd.Series) -> pd.Series:
    """Which rows' `inference_error` marks a failed request (not a row the engine could not answer)."""
    return errors.fillna("").astype(str).str.startswith(REQUEST_FAILED)


def split_failed(rows: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The rows whose request did not fail, and the failed ones' errors indexed by their `response_id`."""
    failed = is_failed(rows["inference_error"])
    return rows[~failed].reset_index(drop=True), rows.loc[failed].set_index("response_id")["inference_error"]


def set_aside(errors: pd.Series, stage: str, reason: str) -> pd.DataFrame:
    """`rejects` rows for the failed requests whose errors `errors` holds, indexed by their row ids."""
    return pd.DataFrame(
        {
            "stage": stage,
            "row_id": errors.index.astype(str),
            "reason": reason,
            "detail": errors.astype(str).str.removeprefix(REQUEST_FAILED).to_numpy(),
        }
    )


def write_set_aside(errors: pd.Series, path: Path, stage: str) -> int:
    """Write the failed requests in `errors` as the stage's `rejects` table at `path`; their count.

    With none, a table left by an earlier attempt (a retry that copied it) is removed.
    """
    if not len(errors):
        path.unlink(missing_ok=True)
        return 0
    log.warning("%s: %d requests failed after their tries: set aside", stage, len(errors))
    return write_table(set_aside(errors, stage, "request failed"), path, "rejects")


def reopen(folder: Path) -> int:
    """Take the failed requests out of a stage's written rows, so that they are asked again; their count.

    Each Parquet part that holds one is rewritten without them (to a temporary name, then renamed, so
    a kill leaves either version); a part left empty is removed.
    """
    reopened = 0
    for path in sorted(folder.glob("*.parquet")) if folder.is_dir() else ():
        try:
            table = pq.read_table(path)
        except Exception:  # cut off by a kill: warmray.resumable drops it and redoes its rows
            continue
        if "inference_error" not in table.column_names:
            continue
        failed = pc.fill_null(pc.starts_with(table["inference_error"], REQUEST_FAILED), False)
        n = pc.sum(failed).as_py() or 0
        if not n:
            continue
        reopened += n
        kept = table.filter(pc.invert(failed))
        if kept.num_rows:
            tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
            pq.write_table(kept, tmp)
            os.replace(tmp, path)
        else:
            path.unlink()
    if reopened:
        log.info("%s: %d failed requests are asked again", folder.name, reopened)
    return reopened


def check_share(
    done: pd.DataFrame, *, label: str, endpoint: str, limit: float, folder: Path, key: str | None = None
) -> int:
    """The number of failed requests in `done`; RequestsFailed when their share exceeds `limit`.

    Each failed request is logged with its row's `key` and error (the first LOGGED of them).
    """
    failed = is_failed(done["inference_error"]) if len(done) else pd.Series([], dtype=bool)
    n = int(failed.sum())
    if n:
        log.warning("%s: %d of %d requests to %s failed", label, n, len(done), endpoint)
        for i, row in enumerate(done[failed].itertuples(index=False)):
            if i == LOGGED:
                log.warning("%s: ... and %d more failed requests", label, n - LOGGED)
                break
            row_id = getattr(row, key) if key else i
            log.warning("%s: request %s failed: %s", label, row_id, row.inference_error)
    if n and n > limit * len(done):
        errors = done.loc[failed, "inference_error"].str.removeprefix(REQUEST_FAILED)
        common = errors.value_counts().index[0]
        raise RequestsFailed(
            f"{label}: {n} of {len(done)} requests to the endpoint {endpoint} failed after every try "
            f"(more than engine.max_failed_fraction = {limit:g} allows); the error seen most: {common}. "
            f"The {len(done) - n} answers that succeeded are kept (in {folder}): once the endpoint answers "
            "again, run the same command and only the failed requests are sent (a --set of the engine's "
            "request_tries, request_timeout_s, qps or max_failed_fraction keeps them too). The log lists the "
            "failures."
        )
    return n
