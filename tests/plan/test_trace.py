"""Traced memory per training rank: the workers' own LoRA step on fake tensors, checked against real runs."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import pytest
import yaml

from warmray.config import ConfigError, TrainConfig, load_config
from warmray.plan import add_arguments, build_plan, cluster_for
from warmray.plan.shapes import Shape
from warmray.plan.trace import GIB, job_for, trace

ROOT = Path(__file__).resolve().parents[2]
PAPER = ROOT / "configs" / "paper.yaml"
# A small Llama: head_dim 64, a vocabulary small enough that the decoder layers, not the logits, dominate.
SMALL = Shape(8, 256, 4, 2, 64, 768, 2048, source="test")
TRAIN = TrainConfig(dtype="float32", lora_dropout=0.1)


def _args(*argv: str):
    import argparse

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_a_trace_scaled_from_two_cut_models_matches_the_full_depth_trace():
    job = job_for(SMALL, TRAIN, strategy="fsdp", world=4, batch=2)
    job = replace(job, max_length=128)
    scaled, full = trace([job], "scaled")[0], trace([job], "full")[0]
    assert "scaled per layer" in scaled.note and "full depth" in full.note
    assert scaled.peak_gib == pytest.approx(full.peak_gib, rel=0.02)


def test_the_traced_fsdp_peak_of_rank_0_is_within_15_percent_of_a_real_4_rank_gloo_run():
    shape = replace(SMALL, layers=4)
    job = replace(job_for(shape, TRAIN, strategy="fsdp", world=4, batch=2), max_length=128)
    (traced,) = trace([job], "full")
    train = {k: v for k, v in job.train}
    cmd = [sys.executable, str(ROOT / "tests" / "plan" / "real_peak.py"), json.dumps(asdict(shape))]
    cmd += [json.dumps(train), "fsdp", "4", "2", "128"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    real = json.loads(proc.stdout.strip().splitlines()[-1])["0"] / GIB
    assert traced.peak_gib == pytest.approx(real, rel=0.15), (traced, real)


def test_the_paper_plan_prints_a_traced_peak_per_rank_for_every_training_job():
    proc = subprocess.run(
        [sys.executable, "-m", "warmray", "plan", str(PAPER)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    cfg = load_config(PAPER)
    lines = proc.stdout.splitlines()
    for m in cfg.models:
        strategy = cfg.train.for_model(m).strategy
        (line,) = [x for x in lines if x.startswith(f"  {m.name}: {strategy} x 8 ranks: traced peak ")]
        assert "(formula " in line and "parts at the peak" in line
        traced = float(line.split("traced peak ")[1].split(" GiB")[0])
        assert 0 < traced < 78
        rows = [x.split() for x in lines if x.split()[:1] == ["train"] and f" {m.name}/" in x]
        assert len(rows) == len(cfg.train.styles)
        assert all(f"{traced:.1f}" in row for row in rows)


def test_a_70b_ddp_worker_is_refused_by_its_trace_with_a_setting_whose_trace_fits(tmp_path):
    raw = yaml.safe_load(PAPER.read_text())
    raw["models"] = [{**raw["models"][3], "train_strategy": "ddp"}]
    raw["train"]["per_device_batch_size"] = 1
    path = tmp_path / "70b-ddp.yaml"
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)
    with pytest.raises(ConfigError) as err:
        build_plan(cfg, cluster_for(cfg, _args(str(path))), trace="scaled")
    msg = str(err.value)
    assert "models.0 (llama-3.1-70b): a ddp training worker's traced peak is " in msg
    assert float(msg.split("traced peak is ")[1].split(" GiB")[0]) > 131  # bf16 weights alone: 131 GiB
    assert "largest parts: Parameter " in msg
    assert "set models[0].train_strategy: fsdp (traced " in msg
