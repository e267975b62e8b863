"""A killed training's checkpoints are resumed only by the stage identity that wrote them.

Ray Train resumes any run it finds under (storage, name). The train stage keeps that storage inside its
partial folder, which the stage machinery discards when the attempt's identity (config sections, input
output ids) differs: these tests drive the real stage through `run_stage` with Ray Train replaced by a
fake that leaves a checkpoint and can be "killed", and look at what the next attempt finds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import warmray.stages.train as train
from warmray.config import load_config
from warmray.pipeline import STAGES
from warmray.stage import Stage, StageContext, run_stage

ROOT = Path(__file__).resolve().parents[3]
TRAIN = next(s for s in STAGES if s.name == "train")


class FakeRayTrain:
    """Stands in for `train.fit`: reports what it found in its storage, leaves a checkpoint, may be killed."""

    def __init__(self) -> None:
        self.kill = False
        self.found: list[str | None] = []  # per call: the learning rate of the checkpoint it would resume

    def fit(self, cfg, model_path, data, storage, name, workers, callbacks=()):
        run = Path(storage) / name
        marker = run / "checkpoint_000000" / "lr.txt"
        self.found.append(marker.read_text() if marker.is_file() else None)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(str(cfg.learning_rate))
        if self.kill:
            raise KeyboardInterrupt("SIGKILL stand-in: the command died after the first checkpoint")
        return str(cfg.learning_rate)

    @staticmethod
    def export(result, final, model, style):
        (final / "epoch_1").mkdir(parents=True)
        (final / "epoch_1" / "adapter_config.json").write_text(json.dumps({"lr": result}))
        metrics = pd.DataFrame({"model": [model], "style": [style], "checkpoint_epoch": [1.0], "loss": [0.5]})
        metrics.to_parquet(final / "losses.parquet", index=False)
        return metrics


def rewrite_stage(text: str) -> Stage:
    """A stand-in rewrite stage: its output (and so its output id) is whatever it is given."""

    def run(ctx, out: Path) -> dict[str, int]:
        for style in ("warm", "cold"):
            pd.DataFrame({"conversation_id": [text]}).to_parquet(out / f"{style}.parquet")
        return {"warm": 1}

    return Stage("rewrite", run, sections=("rewrite",), uses_ray=False)


@pytest.fixture
def fake(monkeypatch):
    ray_train = FakeRayTrain()
    monkeypatch.setattr(train, "fit", ray_train.fit)
    monkeypatch.setattr(train, "export_adapters", ray_train.export)
    monkeypatch.setattr(train, "resolve_model", lambda source: source)
    monkeypatch.setattr("warmray.runtime.ensure_ray", lambda cfg: None)
    return ray_train


def context(run_dir: Path, lr: float) -> StageContext:
    overrides = [f"train.learning_rate={lr}", "train.styles=[warm]"]
    return StageContext(load_config(ROOT / "configs" / "tiny.yaml", overrides), run_dir)


def killed(ctx: StageContext, fake: FakeRayTrain) -> None:
    fake.kill = True
    with pytest.raises(KeyboardInterrupt):
        run_stage(TRAIN, ctx)
    fake.kill = False


def test_the_same_identity_resumes_its_checkpoint(tmp_path, fake):
    run_stage(rewrite_stage("a"), context(tmp_path, 1e-3))
    killed(context(tmp_path, 1e-3), fake)
    run_stage(TRAIN, context(tmp_path, 1e-3))
    assert fake.found == [None, "0.001"]


def test_another_learning_rate_never_resumes_the_killed_runs_checkpoint(tmp_path, fake):
    run_stage(rewrite_stage("a"), context(tmp_path, 1e-3))
    killed(context(tmp_path, 1e-3), fake)
    run_stage(TRAIN, context(tmp_path, 0.5))
    assert fake.found == [None, None]
    adapter = tmp_path / "train" / "tiny" / "warm" / "epoch_1" / "adapter_config.json"
    assert json.loads(adapter.read_text()) == {"lr": "0.5"}
    assert not list(tmp_path.rglob(".ray_train"))  # scratch: never committed, nothing left behind


def test_a_redone_rewrite_never_resumes_the_killed_runs_checkpoint(tmp_path, fake):
    run_stage(rewrite_stage("a"), context(tmp_path, 1e-3))
    killed(context(tmp_path, 1e-3), fake)
    run_stage(rewrite_stage("b"), context(tmp_path, 1e-3), force=True)
    run_stage(TRAIN, context(tmp_path, 1e-3))
    assert fake.found == [None, None]


def test_ray_train_storage_is_scratch_of_the_attempt():
    out = Path("/runs/x/.train.partial")
    assert train.storage_dir(out) == out / ".ray_train"
