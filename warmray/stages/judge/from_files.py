"""`warmray judge --from FILE... --out DIR [CONFIG]`: grade responses produced elsewhere.

The files are CSV or Parquet in our columns (a `responses` or `verdicts` table) or in the study's
released layout (`output` for the response, reference answers as `correct_answer` / `incorrect_answer`,
MedQA `answer` / `wrong_answer`, MASK `ground_truth` / `ground_false`). They are graded with the
config's judge (`judge` section; no CONFIG: the reference grader with the study's refusal rule). A label
the file already carries (`verdict`, or the study's `evaluation`) is kept as `source_verdict`, and the
new verdicts' agreement with it is printed and written, so a cheap grader can be checked against a
trusted judge's labels. Output: DIR/verdicts.parquet (the input columns plus `is_refusal`, `verdict`,
`grader`, `judge_raw`, and `reference_verdict` beside an LLM judge) and DIR/agreement.csv.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from warmray.config import ExperimentConfig, load_config
from warmray.stage import StageContext
from warmray.stages.judge import grading
from warmray.stages.judge.agreement import Source, compare

# Our column <- the columns other layouts use for it, first found wins.
ALIASES = {
    "response": ("output",),
    "question": ("original_question", "prompt"),
    "correct_answers": ("correct_answer", "answer", "ground_truth"),
    "incorrect_answers": ("incorrect_answer", "wrong_answer", "ground_false"),
}
PRIOR_LABELS = ("verdict", "evaluation")


def _as_list(value: object) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return []
    return [str(v) for v in value]  # a list or array column (our tables)


def normalise(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """A file's rows in the columns the graders read; the file's own columns are kept."""
    out = frame.copy()
    prior = next((c for c in PRIOR_LABELS if c in out.columns), None)
    if prior:
        out = out.rename(columns={prior: "source_verdict"})
    for ours, theirs in ALIASES.items():
        if ours not in out.columns:
            found = next((c for c in theirs if c in out.columns), None)
            if found is None:
                raise ValueError(f"{name}: no {ours!r} column (nor any of {list(theirs)}).")
            out[ours] = out[found]
    for col in ("correct_answers", "incorrect_answers"):
        out[col] = out[col].map(_as_list)
    out["response"] = out["response"].fillna("").astype(str)
    if "response_id" not in out.columns:
        out["response_id"] = [f"{name}:{i}" for i in range(len(out))]
    if "inference_error" not in out.columns:
        out["inference_error"] = ""
    out["inference_error"] = out["inference_error"].fillna("")
    return out


def read_responses(paths: list[Path]) -> pd.DataFrame:
    """All files' rows, normalised (see the module docstring)."""
    frames = []
    for path in paths:
        if path.suffix.lower() == ".csv":
            frame = pd.read_csv(path, keep_default_na=False)
        else:
            frame = pd.read_parquet(path)
        frames.append(normalise(frame, path.stem))
    return pd.concat(frames, ignore_index=True)


def grade(responses: pd.DataFrame, config: ExperimentConfig, scratch: Path) -> pd.DataFrame:
    """Verdicts by the config's judge; beside an LLM judge, `reference_verdict` when keep_reference."""
    cfg = config.judge
    if cfg.grader != "llm":
        return grading.grade_by_reference(responses, cfg.refusal_rule)
    from warmray.runtime import ensure_ray

    ensure_ray(config.ray)
    verdicts = grading.grade_by_llm(StageContext(config, scratch), responses, scratch / ".raw")
    if cfg.keep_reference:
        verdicts["reference_verdict"] = grading.grade_by_reference(responses, cfg.refusal_rule)["verdict"]
    return verdicts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--from` and `--out` (the judge subcommand already takes an optional CONFIG)."""
    parser.add_argument(
        "--from", dest="sources", nargs="+", type=Path, metavar="FILE", help="responses to grade"
    )
    parser.add_argument("--out", type=Path, help="folder for verdicts.parquet and agreement.csv")


def command(args: argparse.Namespace) -> int:
    """Grade the files' responses; print and write agreement with any label they already carry."""
    if not args.out:
        print("warmray judge: --from needs --out DIR", file=sys.stderr)
        return 2
    config_path = getattr(args, "config", None)
    config = (
        load_config(config_path)
        if config_path
        else ExperimentConfig.model_validate(
            {"models": [{"name": "external", "source": "builtin:tiny-random"}]}
        )
    )
    try:
        responses = read_responses(list(args.sources))
    except (OSError, ValueError) as e:
        print(f"warmray judge: {e}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    verdicts = grade(responses, config, args.out)
    verdicts.to_parquet(args.out / "verdicts.parquet", index=False)
    counts = verdicts["verdict"].value_counts().to_dict()
    print(f"{len(verdicts)} responses graded by {verdicts['grader'].iloc[0]}: {counts}")
    pairs = [("source_verdict", "the files' own labels"), ("reference_verdict", "the reference grader")]
    tables = []
    for column, what in pairs:
        if column in verdicts.columns:
            table, matrix = compare(Source("verdict", verdicts, "verdict"), Source(column, verdicts, column))
            overall = table.iloc[0]
            print(
                f"agreement with {what}: {overall['agreement']:.1%}, kappa {overall['kappa']:.3f} "
                f"(95% CI {overall['kappa_ci_low']:.3f} to {overall['kappa_ci_high']:.3f}), "
                f"n={overall['n']}\n"
                f"{matrix.to_string()}"
            )
            tables.append(table.assign(compared_with=column))
    if tables:
        pd.concat(tables, ignore_index=True).to_csv(args.out / "agreement.csv", index=False)
    print(f"verdicts: {args.out / 'verdicts.parquet'}")
    return 0
