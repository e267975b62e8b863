"""Arms (warmray.arms): which model, adapter, system prompt and checkpoint answer, the same in every stage.

No engine runs here: `warmray.infer.answer` is replaced by a recorder that stops the stage once it has
seen what the engine would be asked (the rows, their adapters, the LoRA rank and the engine settings).
"""

import json
from pathlib import Path

import pandas as pd
import pytest

from warmray.arms import Arm, arm_requests, list_arms, max_lora_rank, planned_lora_rank
from warmray.audit.experiment import AuditRequest, build_config
from warmray.audit.targets import parse_target, unique_names
from warmray.config import ExperimentConfig, TrainConfig, load_config
from warmray.prompt_files import read_prompt
from warmray.rundir import MANIFEST, RunDir
from warmray.schema import columns, read_checkpoint, write_table
from warmray.stage import StageContext
from warmray.statistics.released import canonical_values

ROOT = Path(__file__).resolve().parents[1]


class Asked(Exception):
    """Raised by the recording engine: the stage got as far as asking it."""


@pytest.fixture
def engine_calls(monkeypatch):
    """Record every `warmray.infer.answer` call (its requests and settings), then stop the stage."""
    calls: list[dict] = []

    def record(requests, key, folder, model, engine, sampling, *, label, lora_rank=None):
        calls.append({"requests": requests.copy(), "engine": engine, "lora_rank": lora_rank, "model": model})
        raise Asked(label)

    monkeypatch.setattr("warmray.infer.answer", record)
    return calls


@pytest.fixture
def fake_engine(monkeypatch):
    """`warmray.infer.answer` as an engine that answers every request "Fine." (what it returns: the
    request's carried columns and the engine's output columns); the warmth scorer gives every answer 0.5.
    """
    from warmray.infer import OUTPUT_COLUMNS
    from warmray.sociot import SCORE_COLUMNS

    def answer(requests, key, folder, model, engine, sampling, *, label, lora_rank=None):
        carried = requests.drop(columns=[c for c in ("messages", "adapter") if c in requests])
        return carried.assign(**dict(zip(OUTPUT_COLUMNS, ("Fine.", 3, 2, ""), strict=True)))

    def score(ctx, answers, raw):
        return answers.assign(**dict.fromkeys(SCORE_COLUMNS, 0.5))

    monkeypatch.setattr("warmray.infer.answer", answer)
    monkeypatch.setattr("warmray.stages.warmth.curve._score", score)


def _adapter(folder: Path, rank: int) -> Path:
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": rank}))
    return folder


def tiny_config(tmp_path: Path, **model: object) -> ExperimentConfig:
    """configs/tiny.yaml (one model, styles warm and cold at epochs 0.5 and 1, evaluate.epoch 1)."""
    data = load_config(ROOT / "configs" / "tiny.yaml").model_dump(mode="json")
    data["models"] = [{**data["models"][0], **model}]
    return ExperimentConfig.model_validate(data)


def trained(run: Path, model: str = "tiny", rank: int = 8) -> None:
    """A finished train stage holding every adapter of configs/tiny.yaml."""
    for style in ("warm", "cold"):
        for epoch in ("0.5", "1"):
            _adapter(run / "train" / model / style / f"epoch_{epoch}", rank)
    (run / "train" / MANIFEST).write_text("{}")


def committed(run: Path, stage: str, table: str, frame: pd.DataFrame) -> None:
    write_table(frame[columns(table)], RunDir(run).table(stage, table), table)
    (run / stage / MANIFEST).write_text("{}")


def grid_prompts() -> pd.DataFrame:
    grid = pd.DataFrame({c: [""] for c in columns("prompts")})
    grid = grid.assign(prompt_id="demo:1|original|unmodified", prompt="2+2?", task="demo", item_id="demo:1")
    grid = grid.assign(prompt_template="original", amendment_type="unmodified", question_form="as_given")
    grid["correct_answers"], grid["incorrect_answers"] = [["4"]], [[]]
    return grid


def test_arms_of_a_config_with_a_shipped_adapter_a_system_prompt_and_fine_tuned_styles(tmp_path):
    shipped = _adapter(tmp_path / "shipped-lora", 16)
    cfg = tiny_config(tmp_path, adapter=str(shipped))
    run = tmp_path / "run"
    trained(run)
    arms = list_arms(cfg, "generate", RunDir(run))
    train = run / "train" / "tiny"
    warm_prompt = read_prompt(cfg.warm_system_prompt)
    assert arms == [
        Arm("tiny", "original", shipped.resolve()),
        Arm("tiny", "warm", (train / "warm" / "epoch_1").resolve(), None, 1.0),
        Arm("tiny", "cold", (train / "cold" / "epoch_1").resolve(), None, 1.0),
        Arm("tiny", "warm_sysprompt", shipped.resolve(), warm_prompt),
    ]
    fields = [(a.checkpoint, a.style, a.name, a.lora_rank) for a in arms]
    assert fields == [
        ("", "", "original", 16),
        ("epoch_1", "warm", "warm/epoch_1", 8),
        ("epoch_1", "cold", "cold/epoch_1", 8),
        ("", "", "warm_sysprompt", 16),
    ]
    assert (
        max_lora_rank(arms) == 16 and max_lora_rank(arms[1:3]) == 8 and max_lora_rank([Arm("m", "x")]) is None
    )
    # The warmth curve: the model as configured (epoch 0), then every style at every checkpoint epoch.
    curve = list_arms(cfg, "warmth", RunDir(run))
    assert [(a.variant, a.adapter, a.epoch, a.checkpoint) for a in curve[:2]] == [
        ("original", shipped.resolve(), None, ""),
        ("warm", (train / "warm" / "epoch_0.5").resolve(), 0.5, "epoch_0.5"),
    ]
    assert len(curve) == 5 and curve[2] == arms[1]  # the evaluated warm checkpoint is one arm everywhere
    rows = arm_requests(arms, pd.DataFrame({"prompt_id": ["p1"], "prompt": ["Hi?"]}))
    assert rows["response_id"].tolist() == [
        "tiny|original|p1",
        "tiny|warm/epoch_1|p1",
        "tiny|cold/epoch_1|p1",
        "tiny|warm_sysprompt|p1",
    ]
    assert rows["checkpoint"].tolist() == ["", "epoch_1", "epoch_1", ""]
    assert rows["system_prompt"].tolist() == ["", "", "", warm_prompt]
    assert rows["messages"].iloc[3] == [
        {"role": "system", "content": warm_prompt},
        {"role": "user", "content": "Hi?"},
    ]
    assert rows["adapter"].tolist() == [str(a.adapter) for a in arms]


def test_capability_serves_a_models_own_adapter(tmp_path, engine_calls):
    from warmray.stages import capability

    shipped = _adapter(tmp_path / "shipped-lora", 16)
    cfg = tiny_config(tmp_path, adapter=str(shipped))
    cfg = cfg.model_copy(update={"capability": cfg.capability.model_copy(update={"variants": ("original",)})})
    with pytest.raises(Asked):
        capability.run(StageContext(cfg, tmp_path / "run"), tmp_path / "out")
    asked = engine_calls[0]
    assert len(asked["requests"]) == 6 and (asked["requests"]["adapter"] == str(shipped.resolve())).all()
    assert asked["lora_rank"] == 16  # the adapter's own rank, not train.lora_r (8)


def test_warmth_serves_a_models_own_adapter_as_its_epoch_0(tmp_path, engine_calls):
    from warmray.stages import warmth

    shipped = _adapter(tmp_path / "shipped-lora", 32)
    cfg = tiny_config(tmp_path, adapter=str(shipped))
    run = tmp_path / "run"
    trained(run)
    prompts = pd.DataFrame(
        {"conversation_id": ["c1"], "prompt_id": ["v1"], "prompt": ["How are you?"], "origin": ["demo"]}
    )
    committed(run, "corpus", "val_prompts", prompts)
    with pytest.raises(Asked):
        warmth.run(StageContext(cfg, run), tmp_path / "out")
    rows = engine_calls[0]["requests"].set_index("response_id")
    assert rows.loc["tiny|original|v1", "adapter"] == str(shipped.resolve())
    assert rows.loc["tiny|warm/epoch_0.5|v1", "adapter"] == str((run / "train/tiny/warm/epoch_0.5").resolve())
    assert engine_calls[0]["lora_rank"] == 32


def test_the_sweep_asks_for_the_models_tensor_parallel_size(tmp_path, engine_calls):
    from warmray.sweep.evaluate import evaluate

    cfg = tiny_config(tmp_path, tensor_parallel_size=4)
    cfg = cfg.model_copy(update={"generate": cfg.generate.model_copy(update={"variants": ("original",)})})
    run = tmp_path / "run"
    committed(run, "grid", "prompts", grid_prompts())
    val = pd.DataFrame(
        {"conversation_id": ["c1"], "prompt_id": ["v1"], "prompt": ["Hello"], "origin": ["demo"]}
    )
    committed(run, "corpus", "val_prompts", val)
    with pytest.raises(Asked):
        evaluate(StageContext(cfg, run), tmp_path / "eval")
    asked = engine_calls[0]
    assert asked["engine"].tensor_parallel_size == 4
    assert asked["requests"]["response_id"].tolist() == [
        "tiny|original|demo:1|original|unmodified",
        "val|tiny|original|v1",
    ]


def test_the_audit_never_writes_into_train_and_takes_the_adapters_rank_from_its_config(tmp_path):
    base, adapter = tmp_path / "base", _adapter(tmp_path / "persona-lora", 16)
    base.mkdir()
    (base / "config.json").write_text("{}")
    targets = (parse_target(f"{base}+{adapter}"),)
    cfg = build_config(AuditRequest(targets, tuple(unique_names(list(targets))), items=1))
    assert cfg.train == TrainConfig()
    arms = list_arms(cfg, "generate", RunDir(tmp_path / "run"))
    assert [(a.variant, a.adapter, a.lora_rank) for a in arms] == [("original", adapter.resolve(), 16)]


def test_responses_capability_and_warmth_tables_spell_a_checkpoint_one_way(tmp_path, fake_engine):
    from warmray.schema import read_table
    from warmray.stages import capability, generate, warmth

    cfg = tiny_config(tmp_path)
    every = cfg.capability.model_copy(update={"variants": cfg.generate.variants})  # all four
    cfg = cfg.model_copy(update={"capability": every})
    run = tmp_path / "run"
    trained(run)
    committed(run, "grid", "prompts", grid_prompts())
    val = pd.DataFrame(
        {"conversation_id": ["c1"], "prompt_id": ["v1"], "prompt": ["Hello"], "origin": ["demo"]}
    )
    committed(run, "corpus", "val_prompts", val)
    ctx, out = StageContext(cfg, run), tmp_path / "out"
    for stage in ("generate", "capability", "warmth"):
        (out / stage).mkdir(parents=True)  # a stage's partial folder, as run_stage makes it
    generate.run(ctx, out / "generate")
    capability.run(ctx, out / "capability")
    warmth.run(ctx, out / "warmth")
    responses = read_table(out / "generate" / "responses" / "tiny.parquet", "responses")
    scores = read_table(out / "capability" / "scores.parquet", "capability_scores")
    curve = read_table(out / "warmth" / "scores.parquet", "warmth_scores")
    for table in (responses, scores):
        assert table.groupby("variant")["checkpoint"].agg(set).to_dict() == {
            "original": {""},
            "warm": {"epoch_1"},
            "cold": {"epoch_1"},
            "warm_sysprompt": {""},
        }
    assert curve.groupby(["style", "epoch"])["checkpoint"].agg(set).to_dict() == {
        (s, e): {c} for s in ("cold", "warm") for e, c in ((0.0, ""), (0.5, "epoch_0.5"), (1.0, "epoch_1"))
    }


def test_older_checkpoint_spellings_read_as_todays():
    assert [read_checkpoint(v) for v in ("original", "warm/epoch_2", "epoch_2", "")] == [
        "",
        "epoch_2",
        "epoch_2",
        "",
    ]
    old = pd.DataFrame({"checkpoint": ["original", "cold/epoch_0.5", "epoch_1"]})
    assert canonical_values(old)["checkpoint"].tolist() == ["", "epoch_0.5", "epoch_1"]


def test_compare_reads_an_older_runs_warmth_checkpoints_as_todays(tmp_path):
    from warmray.compare import compare_runs

    keys = {"model": ["m"] * 2, "style": ["warm"] * 2, "epoch": [0.0, 2.0], "prompt_id": ["p"] * 2}
    for run, spelt in (("old", ["original", "warm/epoch_2"]), ("new", ["", "epoch_2"])):
        (tmp_path / run / "warmth").mkdir(parents=True)
        (tmp_path / run / "warmth" / MANIFEST).write_text("{}")
        pd.DataFrame({**keys, "checkpoint": spelt}).to_parquet(tmp_path / run / "warmth" / "scores.parquet")
    diffs, _ = compare_runs(tmp_path / "old", tmp_path / "new")
    assert [(d.name, d.identical) for d in diffs] == [("warmth/scores", True)]


def test_the_planner_knows_the_rank_before_training_and_a_shipped_adapters_from_its_config(tmp_path):
    shipped = _adapter(tmp_path / "shipped-lora", 64)
    untrained = RunDir(tmp_path / "run")  # no adapter trained yet: their rank is the one training writes
    plain, with_shipped = tiny_config(tmp_path), tiny_config(tmp_path, adapter=str(shipped))
    assert planned_lora_rank(plain, list_arms(plain, "generate", untrained)) == plain.train.lora_r == 8
    assert planned_lora_rank(with_shipped, list_arms(with_shipped, "generate", untrained)) == 64
    original_only = plain.model_copy(
        update={"capability": plain.capability.model_copy(update={"variants": ("original",)})}
    )
    assert planned_lora_rank(original_only, list_arms(original_only, "capability", untrained)) is None
