"""A run's evaluation as inspect logs, so `inspect view` browses a warmray run or an audit.

Researchers read evaluation runs in inspect's log viewer and re-score stored runs there. This module
writes the judge stage's verdict table (generate + judge) through the `inspect_ai` package's own log API
(`inspect_ai.log.EvalLog`, `write_eval_log`), one log per model x variant (x checkpoint when a variant has
several): RUN_DIR/inspect/<model>_<variant>.eval. Each sample is one response: its input is the prompt
sent (with the system prompt, if any), its messages the prompt and the response, its target the item's
correct answers, its one score `verdict` (CORRECT / INCORRECT / REFUSAL / UNPARSEABLE, the judge's raw
reply as the explanation, grader and refusal flag as score metadata), and its metadata the item's
answers, template, context, belief and ids. The log's metadata holds the run's config and where the rows
came from; its packages the versions the judge stage recorded. Our Parquet tables stay the source of
truth: these logs are a view of them, rewritten whenever the judge stage's output changes.

`inspect_ai` is an optional extra (`pip install 'warmray[inspect]'`); without it nothing is written and
the run says so. `warmray inspect-logs RUN_DIR` writes them for any finished run or audit directory.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from warmray.errors import UserError
from warmray.manifest import read_manifest
from warmray.rundir import MANIFEST, RunDir
from warmray.schema import Col

if TYPE_CHECKING:
    import pandas as pd
    from inspect_ai.log import EvalLog, EvalSample
    from pydantic import BaseModel

log = logging.getLogger(__name__)
__all__ = ["INSPECT_DIR", "available", "eval_logs", "sample", "write_logs", "write_run_logs"]

INSPECT_DIR = "inspect"
STAMP = ".judge_output_id"  # the judge output the logs were written from: rewritten when it changes
# Columns given to each sample's metadata, when the table has them.
METADATA_COLUMNS = (
    Col.MODEL,
    Col.VARIANT,
    Col.CHECKPOINT,
    Col.TASK,
    Col.ITEM_ID,
    "prompt_id",
    "response_id",
    Col.PROMPT_TEMPLATE,
    Col.AMENDMENT_TYPE,
    "context_statement",
    "question",
    Col.QUESTION_FORM,
    "correct_answers",
    "incorrect_answers",
    "belief_answer",
    "belief_source",
    "num_input_tokens",
    "num_generated_tokens",
    "inference_error",
)
GROUP = (Col.MODEL, Col.VARIANT, Col.CHECKPOINT)
INSTALL_HINT = "pip install 'warmray[inspect]' (the inspect_ai package)"


class InspectLogError(UserError, RuntimeError):
    """Inspect logs cannot be written: inspect_ai is missing, or the run has no verdicts yet."""


def available() -> bool:
    """Whether the optional `inspect_ai` package is installed."""
    return importlib.util.find_spec("inspect_ai") is not None


def _plain(value: Any) -> Any:
    """A table cell as JSON: numpy scalars and arrays as Python values, missing values as None."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


def sample(row: dict[str, Any], number: int) -> EvalSample:
    """One verdict row as an inspect sample (see the module docstring for what goes where).

    `number` makes the id unique when the row has no `response_id`.
    """
    from inspect_ai.log import EvalSample
    from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageUser, ModelOutput
    from inspect_ai.scorer import Score

    model, response = str(row.get(Col.MODEL, "")), str(_plain(row.get(Col.RESPONSE)) or "")
    system = str(_plain(row.get("system_prompt")) or "")
    user = ChatMessageUser(content=str(row.get("prompt", "")))
    sent = [ChatMessageSystem(content=system), user] if system else [user]
    output = ModelOutput.from_content(model=model, content=response)
    error = str(_plain(row.get("inference_error")) or "")
    if error:
        output.error = error
    score_metadata = {
        k: _plain(row[k])
        for k in ("grader", Col.IS_REFUSAL, "reference_verdict", "source_verdict")
        if k in row
    }
    return EvalSample(
        id=str(row.get("response_id") or f"{row.get(Col.ITEM_ID, 'row')}#{number}"),
        epoch=1,
        input=sent if system else user.text,
        target=[str(a) for a in (_plain(row.get("correct_answers")) or [])],
        messages=[*sent, ChatMessageAssistant(content=response, model=model)],
        output=output,
        scores={
            Col.VERDICT: Score(
                value=str(row.get(Col.VERDICT, "")),
                answer=response,
                explanation=str(_plain(row.get("judge_raw")) or "") or None,
                metadata=score_metadata,
            )
        },
        metadata={k: _plain(row[k]) for k in METADATA_COLUMNS if k in row},
    )


def _file_name(key: tuple[str, ...]) -> str:
    name = "_".join(k for k in key if k) or "responses"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name) + ".eval"


def eval_logs(
    verdicts: pd.DataFrame,
    run_config: dict[str, Any],
    *,
    source: str,
    packages: dict[str, str] | None = None,
    created: str | None = None,
) -> dict[str, EvalLog]:
    """One inspect log per model x variant (x checkpoint, when a variant has several), by file name.

    `run_config` is kept whole in each log's metadata, with `source` (where the rows came from).
    """
    from inspect_ai.log import (
        EvalConfig,
        EvalDataset,
        EvalLog,
        EvalMetric,
        EvalResults,
        EvalScore,
        EvalSpec,
        EvalStats,
    )

    created = created or datetime.now(UTC).isoformat()
    # Responses graded elsewhere (judge --from) may lack these columns: they group as one.
    frame = verdicts.assign(**{c: "" for c in GROUP if c not in verdicts.columns})
    several = bool((frame.groupby(list(GROUP[:2]), observed=True)[Col.CHECKPOINT].nunique() > 1).any())
    group_by = list(GROUP) if several else list(GROUP[:2])
    logs = {}
    for key, rows in frame.groupby(group_by, sort=True, observed=True):
        key = tuple(str(k) for k in (key if isinstance(key, tuple) else (key,)))
        labels = dict(zip(group_by, key, strict=True))
        samples = [sample(r, i) for i, r in enumerate(rows.to_dict("records"))]
        counts = rows[Col.VERDICT].astype(str).value_counts().to_dict()
        graded = counts.get("CORRECT", 0) + counts.get("INCORRECT", 0)
        metrics = {v: EvalMetric(name=v, value=float(n)) for v, n in sorted(counts.items())}
        if graded:  # raw share of wrong answers among graded ones; the analysis applies the study's rules
            metrics["error_rate"] = EvalMetric(name="error_rate", value=counts.get("INCORRECT", 0) / graded)
        grader = ", ".join(sorted(rows["grader"].astype(str).unique())) if "grader" in rows else "judge"
        eval_id = hashlib.sha256(f"{source}|{key}".encode()).hexdigest()[:22]
        logs[_file_name(key)] = EvalLog(
            status="success",
            eval=EvalSpec(
                eval_id=eval_id,
                run_id=hashlib.sha256(source.encode()).hexdigest()[:22],
                created=created,
                task=f"warmray_{labels[Col.VARIANT]}".rstrip("_"),
                task_id=eval_id,
                task_display_name=f"warmray {labels[Col.VARIANT]}".strip(),
                task_args=labels,
                model=f"warmray/{labels[Col.MODEL] or 'responses'}",
                dataset=EvalDataset(name="warmray grid", samples=len(samples)),
                config=EvalConfig(),
                packages=packages or {},
                metadata={"warmray": {"source": source, "grader": grader, "config": run_config}},
            ),
            results=EvalResults(
                total_samples=len(samples),
                completed_samples=len(samples),
                scores=[EvalScore(name=Col.VERDICT, scorer=grader, metrics=metrics)],
            ),
            stats=EvalStats(started_at=created, completed_at=created),
            samples=samples,
        )
    return logs


def write_logs(logs: dict[str, EvalLog], folder: Path) -> list[Path]:
    """Write each log as `folder/<name>` (inspect's .eval format), replacing older ones; the paths."""
    from inspect_ai.log import write_eval_log

    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.eval"):
        if old.name not in logs:
            old.unlink()
    paths = []
    for name, log in logs.items():
        write_eval_log(log, str(folder / name))
        paths.append(folder / name)
    return paths


def _run_config(run_dir: RunDir) -> tuple[dict[str, Any], dict[str, str]]:
    """The config sections and package versions the grid, generate and judge manifests recorded."""
    config: dict[str, Any] = {}
    packages: dict[str, str] = {}
    for stage in ("grid", "generate", "judge"):
        if run_dir.finished(stage):
            manifest = read_manifest(run_dir.stage(stage))
            config.update(manifest.config_sections)
            if manifest.overrides:
                config.setdefault("overrides", {})[stage] = manifest.overrides
            packages.update(manifest.versions)
    return config, packages


def write_run_logs(root: Path, config: dict[str, Any] | None = None, force: bool = False) -> list[Path]:
    """Write RUN_DIR/inspect/*.eval from the run's judge verdicts; nothing when they are up to date.

    `config` (the whole validated config, as JSON) is kept in each log; without it, the config sections
    the grid, generate and judge manifests recorded. Returns the logs' paths (also when up to date).

    Raises:
        InspectLogError: inspect_ai is not installed, or the run has no finished judge stage.
    """
    from warmray.schema import read_table

    if not available():
        raise InspectLogError(f"inspect logs need the inspect_ai package: {INSTALL_HINT}.")
    run_dir = RunDir(Path(root).expanduser().resolve())
    if not run_dir.finished("judge"):
        raise InspectLogError(
            f"{run_dir.root}: no finished judge stage, so no verdicts to write as inspect logs (run "
            "`warmray judge CONFIG --run-dir ...` first)."
        )
    folder = run_dir.root / INSPECT_DIR
    output_id = read_manifest(run_dir.stage("judge")).output_id
    stamp = folder / STAMP
    if not force and stamp.is_file() and stamp.read_text() == output_id and any(folder.glob("*.eval")):
        return sorted(folder.glob("*.eval"))
    recorded, packages = _run_config(run_dir)
    table = run_dir.table("judge", "verdicts")
    created = datetime.fromtimestamp((run_dir.stage("judge") / MANIFEST).stat().st_mtime, UTC)
    logs = eval_logs(
        read_table(table, "verdicts"),
        config if config is not None else recorded,
        source=str(table),
        packages=packages,
        created=created.isoformat(),
    )
    paths = write_logs(logs, folder)
    stamp.write_text(output_id)
    return paths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`warmray inspect-logs RUN_DIR [--force]`."""
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run (or audit) directory")
    parser.add_argument("--force", action="store_true", help="rewrite the logs even if up to date")


def command(args: argparse.Namespace) -> int:
    """Write the run's inspect logs and say how to open them."""
    paths = write_run_logs(args.run_dir, force=args.force)
    folder = Path(args.run_dir) / INSPECT_DIR
    print(f"inspect logs: {len(paths)} in {folder}\n  inspect view --log-dir {folder}")
    return 0


def describe(paths: list[Path]) -> str:
    """One line for a run's summary: where the logs are and the command that opens them."""
    if not paths:
        return ""
    folder = paths[0].parent
    return f"inspect:  {folder} ({len(paths)} logs; open with `inspect view --log-dir {folder}`)"


def run_summary_line(root: Path, config: BaseModel | None = None) -> str:
    """Write a finished run's logs and return the line that says where; never raises.

    Without inspect_ai the line says how to get the logs. The logs are a view of tables already written,
    so a failure here is logged (with its traceback) and named in the line, and the run still succeeds.
    """
    dumped = config.model_dump(mode="json") if config else None
    return _safely(lambda: write_run_logs(root, dumped), f"`warmray inspect-logs {root}` retries")


def table_summary_line(verdicts: pd.DataFrame, folder: Path, config: BaseModel, source: str) -> str:
    """`judge --from`: its verdicts as inspect logs in `folder`, and the line that says so; never raises."""
    return _safely(
        lambda: write_logs(eval_logs(verdicts, config.model_dump(mode="json"), source=source), folder),
        "the verdicts.parquet beside them is complete",
    )


def _safely(write: Callable[[], list[Path]], retry: str) -> str:
    if not available():
        return f"inspect:  no logs written for inspect view: {INSTALL_HINT} to get them"
    try:
        return describe(write())
    except Exception as e:  # a view of finished outputs must not fail the command that wrote them
        log.warning("inspect logs not written: %s", e, exc_info=True)
        return f"inspect:  logs not written ({type(e).__name__}: {e}); {retry}"
