"""TriviaQA wrong answers proposed by a real model (SmolLM2 via vLLM), checked before the grid uses them."""

import re

import pandas as pd
import pytest
from e2e_helpers import derived_config, warmray

from warmray.text import normalize

pytestmark = pytest.mark.slow


def test_grid_asks_the_model_for_triviaqa_wrong_answers_and_uses_only_usable_ones(tmp_path, shared_data):
    def edit(cfg):
        cfg["grid"] = {
            "data_dir": str(shared_data),
            "tasks": [{"name": "triviaqa", "n": 8}],
            "prompt_templates": ["original", "incorrect"],
            "amendment_types": ["unmodified"],
            "wrong_answer_model": "builtin:smollm2-135m",
        }

    run_dir = tmp_path / "run"
    proc = warmray("grid", str(derived_config("smoke", tmp_path, edit)), "--run-dir", str(run_dir))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    log = (run_dir / "logs" / "grid.log").read_text()  # the stage's log, not the terminal
    asked = re.search(r"triviaqa: (\d+) of 8 LLM wrong answers usable", log)
    assert asked, "the model was not asked"
    prompts = pd.read_parquet(run_dir / "grid" / "prompts.parquet")
    wrong = prompts[prompts["prompt_template"] == "incorrect"]
    assert len(wrong) == 8
    for row in wrong.itertuples():
        assert row.belief_answer and row.belief_answer in row.prompt
        assert normalize(row.belief_answer) not in {normalize(a) for a in row.correct_answers}
