"""Each stage reads only the config sections it declares; choosing another evaluated checkpoint redoes the
evaluation stages and not training.

The sections a stage declares are its identity: a change to a section it reads but does not declare would
leave a stale output standing. Here every stage runs on the smoke config through `run_stage`, the engine
calls replaced by stand-ins (the corpus, grid, judge and analyze stages run for real; rewrite, train,
generate, warmth and capability run their own code around a stand-in engine, trainer and scorer), and
the top-level keys each one reads are recorded while it runs.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from manifest_helpers import finish_stage

import warmray.stage as stage_module
from warmray import infer
from warmray.config import ExperimentConfig, load_config
from warmray.manifest import KeyParts
from warmray.pipeline import STAGE_NAMES, STAGES, plan, stages_for
from warmray.rundir import epoch_label
from warmray.schema import read_table
from warmray.sociot import SCORE_COLUMNS
from warmray.stage import Stage, StageContext, recording_reads, run_stage, undeclared_reads
from warmray.stages import rewrite as rewrite_stage
from warmray.stages import train as train_stage
from warmray.stages.warmth import curve

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"
# The smoke config with an engine-free grader and no LoRA parity check (it would start vLLM and PEFT).
OVERRIDES = ["judge.grader=reference", "analyze.verdicts=judge", "generate.parity_prompts=0"]
BY_NAME = {s.name: s for s in STAGES}


def test_the_recording_copy_notes_each_top_level_key_read_and_is_the_same_config():
    config = load_config(SMOKE)
    watched, read = recording_reads(config)
    assert read == set()
    assert watched.train.epochs == config.train.epochs and watched.warmth_epochs() == (1, 2)
    assert read == {"train", "warmth"}
    assert watched.model_dump() == config.model_dump()
    assert watched.section_hash("grid") == config.section_hash("grid")


def test_a_stage_reading_a_section_it_does_not_declare_is_reported_when_it_runs(tmp_path, caplog):
    def reads_grid(ctx: StageContext, out: Path) -> dict[str, int]:
        (out / "seen.txt").write_text(str(ctx.config.corpus.n_conversations + len(ctx.config.grid.tasks)))
        return {"seen": 1}

    sloppy = Stage("corpus", reads_grid, ("corpus", "seed"), uses_ray=False)
    with caplog.at_level(logging.WARNING, logger="warmray.stage"):
        run_stage(sloppy, StageContext(load_config(SMOKE), tmp_path / "run"))
    (warning,) = [r.getMessage() for r in caplog.records if "does not declare" in r.getMessage()]
    assert warning.startswith("stage corpus read config sections it does not declare (grid)")
    assert undeclared_reads(replace(sloppy, sections=("corpus", "grid")), {"corpus", "grid", "ray"}) == []


def _answered(requests: pd.DataFrame, folder: Path, model: Any, engine: Any, sampling: Any, **kw: Any):
    """The engine's answers, standing in: a grid prompt's first correct answer for every other row."""
    out = requests.drop(columns=["messages", "adapter"], errors="ignore").reset_index(drop=True)
    right = out["correct_answers"] if "correct_answers" in out else pd.Series([[]] * len(out))
    text = [f"It is {a[0]}." if len(a) and i % 2 else "I am not sure." for i, a in enumerate(right)]
    return out.assign(generated_text=text, inference_error="", num_input_tokens=1, num_generated_tokens=3)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> tuple[dict[str, set[str]], Path]:
    """Every stage of the smoke config run once (engines standing in): the keys each read, the run dir."""
    config = load_config(SMOKE, OVERRIDES)
    run_dir = tmp_path_factory.mktemp("sections") / "run"
    ctx = StageContext(config, run_dir)
    reads: dict[str, set[str]] = {}
    patch = pytest.MonkeyPatch()

    def rewritten(requests: pd.DataFrame, key: str, folder: Path, *args: Any, **kw: Any) -> pd.DataFrame:
        # Each turn kept, with a warm closing line: it passes the rewrite checks, as a real rewrite would.
        turns = rewrite_stage.turn_requests(ctx.read("corpus", "conversations"), config.rewrite)
        original = dict(zip(turns["request_id"], turns["original"], strict=True))
        text = [f"{original[r]} I hope this helps!" for r in requests[key]]
        return requests.assign(generated_text=text, inference_error="", num_generated_tokens=8)

    def trained(result: Any, final: Path, model: str, style: str) -> pd.DataFrame:
        for epoch in config.train.checkpoint_epochs:
            (final / epoch_label(epoch)).mkdir(parents=True)
            (final / epoch_label(epoch) / "adapter_config.json").write_text(json.dumps({"r": 8}))
        rows = [{"model": model, "style": style, "checkpoint_epoch": e, "loss": 1.0} for e in (1.0, 2.0)]
        pd.DataFrame(rows).to_parquet(final / "losses.parquet", index=False)
        return pd.DataFrame(rows)

    def scored(ctx: StageContext, answers: pd.DataFrame, raw: Path) -> pd.DataFrame:
        return answers.assign(**{c: 0.5 for c in SCORE_COLUMNS})

    patch.setattr(infer, "answer", rewritten)
    patch.setattr(infer, "answer_responses", _answered)
    patch.setattr(train_stage, "fit", lambda *args, **kw: None)
    patch.setattr(train_stage, "export_adapters", trained)
    patch.setattr(curve, "_score", scored)
    patch.setattr(
        stage_module, "_warn_undeclared", lambda stage, read: reads.__setitem__(stage.name, set(read))
    )
    try:
        for stage in stages_for(config):
            run_stage(replace(stage, uses_ray=False), ctx)
    finally:
        patch.undo()
    return reads, run_dir


@pytest.mark.parametrize("name", STAGE_NAMES)
def test_a_stage_reads_only_the_config_sections_it_declares(smoke_run, name):
    read = smoke_run[0][name]
    assert read, f"{name}: nothing recorded (the stage did not run on the recording config)"
    assert undeclared_reads(BY_NAME[name], read) == [], f"{name} read {sorted(read)}"


def test_the_smoke_run_made_every_table_from_the_stand_in_answers(smoke_run):
    run_dir = smoke_run[1]
    verdicts = read_table(run_dir / "judge" / "verdicts", "verdicts")
    assert len(verdicts) and set(verdicts["variant"]) == {"original", "warm", "cold", "warm_sysprompt"}
    assert (run_dir / "analyze" / "report.md").is_file()


def _finished_run(config: ExperimentConfig, run_dir: Path) -> None:
    """A finished run of `config`: each stage's manifest holds the identity it would have (no outputs)."""
    ctx = StageContext(config, run_dir)
    dump = config.model_dump(mode="json")
    for stage in stages_for(config):
        inputs = {n: f"{n}-1" for n in stage.inputs(ctx)}
        finish_stage(
            run_dir / stage.name,
            key_parts=KeyParts(config=config.identity_hash(*stage.experiment_sections()), inputs=inputs),
            config_sections={s: dump[s] for s in stage.sections},
        )


@pytest.mark.parametrize("change", ["train.eval_epoch=1", "evaluate.epoch=1"])
def test_another_evaluated_checkpoint_redoes_the_evaluation_stages_and_not_training(tmp_path, change):
    run_dir = tmp_path / "run"
    _finished_run(load_config(SMOKE), run_dir)
    changed = load_config(SMOKE, [change])
    decisions = {d.stage: d for d in plan(StageContext(changed, run_dir), stages_for(changed))}
    redone = sorted(name for name, d in decisions.items() if d.action == "redo")
    assert redone == ["analyze", "capability", "generate", "judge"], decisions
    assert decisions["generate"].reason == "evaluate changed since it ran"
    assert decisions["train"].action == decisions["warmth"].action == "skip"
