"""benchmarks/device_check.py on tiny shapes (CPU, gloo): runs without Ray or vLLM, writes its figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "device_check.py"
# Ray and vLLM made unimportable: the check must run on a GPU machine that has neither.
_WITHOUT_RAY = (
    "import runpy, sys; sys.modules['ray'] = None; sys.modules['vllm'] = None; "
    "sys.argv = [sys.argv[0], *sys.argv[1:]]; runpy.run_path({script!r}, run_name='__main__')"
)


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    out = tmp_path_factory.mktemp("device_check")
    cmd = [sys.executable, "-c", _WITHOUT_RAY.format(script=str(SCRIPT)), str(out), "--tiny"]
    proc = subprocess.run(
        [*cmd, "--steps", "1", "--warmup", "1"], capture_output=True, text=True, timeout=900, cwd=ROOT
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads((out / "device_check.json").read_text())


def test_the_tiny_check_writes_every_figure_of_both_8b_runs(figures):
    assert figures["tiny"] is True and figures["device"].startswith("CPU")
    assert set(figures["versions"]) == {"torch", "transformers", "peft"}
    assert figures["settings"]["lora"] == {
        "lora_r": 8,
        "lora_alpha": 16,
        "lora_dropout": 0.1,
        "target_modules": "all-linear",
    }
    assert "4N_frozen + 6N_lora" in figures["flops_counting"]
    # The one-rank DDP path (a bare model) against the planner's trace of it: the CPU allocator's peak.
    assert 0.8 < figures["runs"]["lora_8b"]["peak_over_traced"] < 1.25, figures["runs"]["lora_8b"]
    for name in ("lora_8b", "fsdp_8b_1rank"):
        run = figures["runs"][name]
        assert run["tokens_per_s"] > 0 and run["seconds_per_step"] > 0 and run["model_tflops_per_s"] > 0
        assert run["mfu"] is None  # no GPU peak to divide by on the CPU
        assert run["lora_params"] > 0 and run["last_loss"] > 0
        for key in ("peak_gib", "traced_gib", "formula_gib"):
            assert run[key] > 0, (name, key)
        assert run["peak_over_traced"] == pytest.approx(run["peak_gib"] / run["traced_gib"])
        assert run["peak_over_formula"] == pytest.approx(run["peak_gib"] / run["formula_gib"])


def test_the_large_shape_gives_the_memory_each_layer_adds_measured_and_traced(figures):
    large = figures["runs"]["large_layers"]
    assert large["layers"] == [2, 4]
    assert large["per_layer_gib"] > 0 and large["traced_per_layer_gib"] > 0
    # Not bounded here: a one-rank FSDP2 model built with real weights and then sharded held more per
    # layer on the CPU than the trace (which builds on meta) counts; the 4-rank gloo test in test_trace.py
    # (the workers' shard_model path) is the bounded comparison. On a GPU this ratio is the figure to read.
    assert large["per_layer_over_traced"] > 0
    assert large["full_depth_from_measured_gib"] > large["peak_gib"]["4"]
