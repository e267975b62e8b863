"""The rewrite, generate and judge stages in-process on the real engine (vLLM CPU, builtin:tiny-random).

One run of corpus → rewrite, and grid → generate (original and warm_sysprompt: no training needed) →
judge (the LLM judge), is shared by every test here: three engine starts, no command-line subprocess.
"""

import pytest

from warmray.config import ExperimentConfig
from warmray.pipeline import STAGES
from warmray.prompt_files import read_prompt
from warmray.schema import VERDICTS, columns, read_table
from warmray.stage import StageContext, run_stage

pytestmark = pytest.mark.slow
ENGINE = {"max_model_len": 1024, "cpu_kvcache_gib": 1, "batch_size": 8}
NAMES = ("corpus", "rewrite", "grid", "generate", "judge")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    config = ExperimentConfig.model_validate(
        {
            "models": [{"name": "tiny", "source": "builtin:tiny-random"}],
            "corpus": {"n_conversations": 6, "val_fraction": 0.34},
            "rewrite": {
                "model": "builtin:tiny-random",
                "engine": ENGINE,
                "min_length_ratio": 0.01,
                "max_length_ratio": 100.0,
                "sampling": {"temperature": 1.0, "max_tokens": 16},
            },
            "grid": {
                "tasks": [{"name": "demo", "n": 3}],
                "prompt_templates": ["original", "incorrect"],
                "amendment_types": ["unmodified"],
            },
            "generate": {
                "variants": ["original", "warm_sysprompt"],
                "engine": ENGINE,
                "sampling": {"temperature": 0.0, "max_tokens": 8},
            },
            "judge": {
                "grader": "llm",
                "model": "builtin:tiny-random",
                "engine": ENGINE,
                "sampling": {"temperature": 0.0, "max_tokens": 4},
            },
        }
    )
    ctx = StageContext(config, tmp_path_factory.mktemp("run"))
    results = {s.name: run_stage(s, ctx) for s in STAGES if s.name in NAMES}
    return ctx, results


def test_rewrite_makes_one_checked_rewrite_per_turn_and_style_and_explains_each_drop(run):
    ctx, results = run
    conversations = ctx.read("corpus", "conversations")
    train = conversations[conversations["split"] == "train"]
    turns = ctx.read("rewrite", "rewrites")
    n_assistant = sum(sum(t["role"] == "assistant" for t in conv) for conv in train["turns"])
    assert len(turns) == 2 * n_assistant and turns["request_id"].is_unique  # warm and cold
    rejects = ctx.read("rewrite", "rejects")
    assert set(turns.loc[turns["reason"] != "", "request_id"]) <= set(rejects["row_id"])
    for style in ("warm", "cold"):
        kept = ctx.read("rewrite", style)
        assert len(kept) == results["rewrite"].rows[style]


def test_generate_answers_every_prompt_once_per_variant_without_training(run):
    ctx, results = run
    prompts = ctx.read("grid", "prompts")
    responses = ctx.read("generate", "responses")
    assert len(prompts) == 6 and len(responses) == 12 and responses["response_id"].is_unique
    assert set(responses["variant"]) == {"original", "warm_sysprompt"}
    assert (responses["inference_error"] == "").all() and (responses["num_generated_tokens"] > 0).all()
    assert list(responses.columns) == columns("responses")
    assert not ctx.rundir.stage("train").exists()


def test_only_warm_sysprompt_rows_carry_the_warm_system_prompt(run):
    ctx, _ = run
    responses = ctx.read("generate", "responses")
    by_variant = responses.groupby("variant")["system_prompt"].agg(set)
    assert by_variant["warm_sysprompt"] == {read_prompt("warm_system_prompt.txt")}
    assert by_variant["original"] == {""}


def test_the_llm_judge_keeps_its_raw_text_and_marks_what_it_cannot_read(run):
    ctx, results = run
    verdicts = read_table(ctx.rundir.table("judge", "verdicts"), "verdicts")
    assert len(verdicts) == 12 and set(verdicts["verdict"]) <= set(VERDICTS)
    assert set(verdicts["grader"]) == {"llm:builtin:tiny-random"}
    judged = verdicts[~verdicts["is_refusal"]]
    assert (judged["judge_raw"].str.len() > 0).all()  # a random model's replies are kept as they came
    assert results["judge"].rows["verdicts"] == 12


def test_a_second_run_of_the_stages_is_skipped(run):
    ctx, _ = run
    again = [run_stage(s, ctx) for s in STAGES if s.name in NAMES]
    assert all(r.skipped for r in again)
