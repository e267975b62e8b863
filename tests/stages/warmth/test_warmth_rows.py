"""The warmth stage's rows: a failed endpoint request is set aside, and a retry asks only it.

No engine runs here: `warmray.infer.answer` is an endpoint whose requests for some rows fail, and
the SocioT scorer gives every answer of one run the same hand-set score.
"""

import shutil

import pandas as pd
import pytest
from failing_endpoint import FailingEndpoint
from test_arms import committed, tiny_config, trained

from warmray import infer
from warmray.schema import read_table
from warmray.sociot import SCORE_COLUMNS
from warmray.stage import FAILED_REQUESTS, StageContext
from warmray.stages import warmth
from warmray.stages.warmth.curve import answer_keys, kept_answers

KEYS = ["model", "style", "epoch", "checkpoint", "prompt_id"]


@pytest.fixture
def scorer(monkeypatch):
    """SocioT replaced by one score for every answer it is given; set `scorer.value` between runs."""

    class Scorer:
        value = 0.5

        def __call__(self, ctx, answers, raw):
            return answers.assign(**dict.fromkeys(SCORE_COLUMNS, self.value))

    score = Scorer()
    monkeypatch.setattr("warmray.stages.warmth.curve._score", score)
    return score


def _study(tmp_path):
    run = tmp_path / "run"
    trained(run)  # configs/tiny.yaml: warm and cold at epochs 0.5 and 1
    prompts = pd.DataFrame(
        {
            "conversation_id": ["c1", "c2"],
            "prompt_id": ["v1", "v2"],
            "prompt": ["How are you?", "I failed my exam."],
            "origin": ["demo", "demo"],
        }
    )
    committed(run, "corpus", "val_prompts", prompts)
    return StageContext(tiny_config(tmp_path), run)


def _run(ctx, out):
    out.mkdir(exist_ok=True)
    return warmth.run(ctx, out)


def test_a_failed_request_is_set_aside_and_a_retry_asks_only_it_keeping_every_score(
    tmp_path, monkeypatch, scorer
):
    ctx = _study(tmp_path)
    endpoint = FailingEndpoint({"tiny|original|v1", "tiny|warm/epoch_1|v2"}, "Lovely.", "HTTP 503")
    monkeypatch.setattr(infer, "answer", endpoint)
    out = tmp_path / "out"
    counts = _run(ctx, out)
    assert counts[FAILED_REQUESTS] == 2 and counts["scores"] == 9  # 7 checkpoint answers, 1 original x 2
    aside = read_table(out / "failed_requests.parquet", "rejects")
    assert list(aside["row_id"]) == ["tiny|original|v1", "tiny|warm/epoch_1|v2"]
    assert set(aside["detail"]) == {"HTTP 503"}

    endpoint.down, scorer.value = set(), 0.9  # a retry: the committed output copied, the scratch gone
    shutil.rmtree(out / ".raw", ignore_errors=True)
    counts = _run(ctx, out)
    assert endpoint.asked[1] == ["tiny|original|v1", "tiny|warm/epoch_1|v2"] and FAILED_REQUESTS not in counts
    again = read_table(out / "scores.parquet", "warmth_scores")
    assert not (out / "failed_requests.parquet").exists()

    endpoint.asked.clear()
    clean = tmp_path / "clean"
    _run(ctx, clean)
    undisturbed = read_table(clean / "scores.parquet", "warmth_scores")
    assert again[KEYS].equals(undisturbed[KEYS])  # every row, in the order of a run that nothing disturbed
    retried = (again["prompt_id"] == "v1") & (again["checkpoint"] == "") | (
        (again["prompt_id"] == "v2") & (again["style"] == "warm") & (again["epoch"] == 1.0)
    )
    assert retried.sum() == 3  # the original model's answer stands in both styles' curves
    assert (again.loc[retried, "warmth"] == 0.9).all() and (again.loc[~retried, "warmth"] == 0.5).all()
    by_epoch = read_table(out / "by_epoch.parquet", "warmth_by_epoch")
    assert (by_epoch["n"] == 2).all()


def test_the_original_models_answer_is_kept_once_though_it_stands_in_every_style():
    scores = pd.DataFrame(
        {
            "model": ["m"] * 3,
            "style": ["warm", "cold", "warm"],
            "epoch": [0.0, 0.0, 1.0],
            "checkpoint": ["", "", "epoch_1"],
            "prompt_id": ["v1"] * 3,
            "procedure": ["later"] * 3,
            "scorer": ["gpt2"] * 3,
        }
    )
    kept = kept_answers(scores)
    assert list(kept["key"]) == ["m|||v1", "m|warm|epoch_1|v1"] == list(answer_keys(kept))
    assert list(kept["style"]) == ["", "warm"] and "procedure" not in kept
