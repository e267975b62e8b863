"""`warmray judge --from PATH... --out DIR [CONFIG] [--set KEY=VALUE]`: grade responses produced elsewhere.

The paths are anything warmray.results_reader reads: CSV or Parquet files in our columns (a `responses`
or `verdicts` table), folders of them, one of our run directories, or the study's released outputs folder
or files (`output` for the response; reference answers as `correct_answer` / `incorrect_answer`, MedQA
`answer` / `wrong_answer`, MASK `ground_truth` / `ground_false`, or, in files that keep only the item
key, those of the same key in the same model's `original` file). A row whose reference answers cannot be
found is set aside, and its file and key are named. Rows are graded with the config's judge (`judge`
section, `--set` overrides applied; no CONFIG: the reference grader with the default `warmray` refusal
rule; `--set judge.refusal_rule=study_as_run` for the study's as it ran). A
label the file already carries (`verdict`, or the study's `evaluation`) is kept as `source_verdict`, and
the new verdicts' agreement with it is printed and written, so a cheap grader can be checked against a
trusted judge's labels. Output: DIR/verdicts.parquet (the input columns plus `is_refusal`, `verdict`,
`grader`, `judge_raw`, and `reference_verdict` beside an LLM judge), DIR/agreement.csv, and with inspect_ai
installed DIR/inspect/*.eval for `inspect view` (warmray.inspect_logs).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from warmray import grading
from warmray.config import ConfigError, ExperimentConfig, apply_overrides, load_config
from warmray.console import add_from_argument
from warmray.grading import Source, compare, grader_for, kappa_text
from warmray.results_reader import Results, ResultsInputError, read_results
from warmray.schema import Col
from warmray.statistics import answer_list, unmatched_references

# Our column <- the columns other layouts use for it, first found wins.
ALIASES = {
    Col.RESPONSE: ("output",),
    "question": ("original_question", "prompt"),
    "correct_answers": ("correct_answer", "answer", "ground_truth"),
    "incorrect_answers": ("incorrect_answer", "wrong_answer", "ground_false"),
}
PRIOR_LABELS = (Col.VERDICT, "evaluation")


def _as_list(value: object) -> list[str]:
    if isinstance(value, str):
        return answer_list(value)  # one answer, or a list written out as text ("['a', 'b']") in a CSV
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return []
    return [str(v) for v in value]  # a list or array column (our tables)


def normalise(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """A file's rows in the columns the graders read; the file's own columns are kept."""
    out = frame.copy()
    prior = next((c for c in PRIOR_LABELS if c in out.columns), None)
    if prior:
        # A table graded before (ours, or this command's output) keeps its labels under source_ names.
        out = out.drop(columns=["source_verdict"], errors="ignore").rename(columns={prior: "source_verdict"})
        out = out.rename(columns={"reference_verdict": "source_reference_verdict"})
    for ours, theirs in ALIASES.items():
        if ours not in out.columns:
            found = next((c for c in theirs if c in out.columns), None)
            if found is None:
                raise ValueError(f"{name}: no {ours!r} column (nor any of {list(theirs)}).")
            out[ours] = out[found]
    for col in ("correct_answers", "incorrect_answers"):
        out[col] = out[col].map(_as_list)
    out[Col.RESPONSE] = out[Col.RESPONSE].fillna("").astype(str)
    if "response_id" not in out.columns:
        where = out["source_file"] if "source_file" in out.columns else pd.Series(name, index=out.index)
        out["response_id"] = [f"{w}:{i}" for i, w in enumerate(where)]
    if "inference_error" not in out.columns:
        out["inference_error"] = ""
    out["inference_error"] = out["inference_error"].fillna("")
    return out


def read_responses(paths: list[Path]) -> tuple[pd.DataFrame, Results, list[str]]:
    """All paths' rows, normalised (see the module docstring); what was read; rows set aside, explained.

    A row of the study's files whose reference answers were found nowhere cannot be graded: it is left out
    and each such file is named with its missing keys.
    """
    results = read_results(paths)
    frame = pd.concat([normalise(p.frame, p.source) for p in results.parts], ignore_index=True)
    set_aside = unmatched_references(frame)
    if "reference_from" in frame.columns:
        frame = frame[frame["reference_from"].fillna("-") != ""].reset_index(drop=True)
    if frame.empty:
        raise ResultsInputError("no row can be graded: none has reference answers.\n" + "\n".join(set_aside))
    return frame, results, set_aside


def judge_config(config_path: str | Path | None, overrides: list[str]) -> ExperimentConfig:
    """The config whose `judge` section grades: CONFIG with `--set` applied, else the default one with them.

    Raises:
        ConfigError: the file or an override is invalid.
    """
    if config_path:
        return load_config(config_path, overrides)
    raw = apply_overrides({"models": [{"name": "external", "source": "builtin:tiny-random"}]}, overrides)
    try:
        return ExperimentConfig.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise ConfigError(f"--set {' '.join(overrides)}: {problems}.") from None


def grade(responses: pd.DataFrame, config: ExperimentConfig, scratch: Path) -> pd.DataFrame:
    """Verdicts by the config's judge; `reference_verdict` beside them when its grader keeps those."""
    if grader_for(config.judge.grader).needs_engine:
        from warmray.runtime import ensure_ray

        ensure_ray(config.ray)
    graded = grading.grade(responses, config.judge, scratch / ".raw")
    verdicts = graded.verdicts
    if graded.reference is not None:
        verdicts["reference_verdict"] = graded.reference[Col.VERDICT]  # aligned on the responses' index
    return verdicts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--from` and `--out` (the judge subcommand already takes an optional CONFIG and `--set`)."""
    add_from_argument(
        parser,
        "responses to grade: CSV/Parquet files, folders, a run directory, or the study's released outputs "
        "folder or files",
    )
    parser.add_argument("--out", type=Path, help="folder for verdicts.parquet and agreement.csv")


def command(args: argparse.Namespace) -> int:
    """Grade the files' responses; print and write agreement with any label they already carry."""
    if not args.out:
        print("warmray judge: --from needs --out DIR", file=sys.stderr)
        return 2
    try:
        config = judge_config(getattr(args, "config", None), list(getattr(args, "overrides", None) or []))
        responses, results, set_aside = read_responses(list(args.sources))
    except (OSError, ValueError) as e:  # ConfigError and ResultsInputError are ValueErrors
        print(f"warmray judge: {e}", file=sys.stderr)
        return 2
    print(f"read {results.summary()}")
    if set_aside:
        print("set aside (no reference answers to grade against):\n  " + "\n  ".join(set_aside))
    args.out.mkdir(parents=True, exist_ok=True)
    verdicts = grade(responses, config, args.out)
    verdicts.to_parquet(args.out / "verdicts.parquet", index=False)
    counts = verdicts[Col.VERDICT].value_counts().to_dict()
    print(f"{len(verdicts)} responses graded by {verdicts['grader'].iloc[0]}: {counts}")
    pairs = [("source_verdict", "the files' own labels"), ("reference_verdict", "the reference grader")]
    tables = []
    for column, what in pairs:
        if column in verdicts.columns:
            table, matrix = compare(
                Source(Col.VERDICT, verdicts, Col.VERDICT), Source(column, verdicts, column)
            )
            overall = table.iloc[0]
            print(
                f"agreement with {what}: {overall['agreement']:.1%}, kappa {kappa_text(overall, 3)}, "
                f"n={overall['n']}\n"
                f"{matrix.to_string()}"
            )
            tables.append(table.assign(compared_with=column))
    if tables:
        pd.concat(tables, ignore_index=True).to_csv(args.out / "agreement.csv", index=False)
    print(f"verdicts: {args.out / 'verdicts.parquet'}")
    from warmray.inspect_logs import table_summary_line  # for `inspect view`; optional

    print(table_summary_line(verdicts, args.out / "inspect", config, results.summary()))
    return 0
