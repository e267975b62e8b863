"""The shared tiny study (tests/e2e/conftest.py): its outputs, its terminal, its run directory's safety.

Tests that change the run directory (a forced stage, an edited prompt file) come last in this file.
"""

import json
import shutil
from collections import Counter

import pandas as pd
import pytest
from e2e_helpers import SERVER_KEY, SERVER_KEY_ENV, check_run_dir, warmray
from flaky_judge import JUDGE_MODEL, flaky_judge_server, judge_label

from warmray import processes, schema
from warmray.compare import compare_runs, nondeterministic
from warmray.config import ExperimentConfig, load_config
from warmray.grading.llm_judge import judge_messages
from warmray.infer import engine_hooks
from warmray.pipeline import STAGE_NAMES, STAGES
from warmray.prompt_files import read_prompt
from warmray.rundir import MANIFEST, TABLES, RunDir
from warmray.schema import UNPARSEABLE
from warmray.sociot.measure import load_scorer, sociot

pytestmark = pytest.mark.slow

VARIANTS = {"original", "warm", "cold", "warm_sysprompt"}


def decisions(stdout: str) -> dict[str, str]:
    """The stage -> action lines `warmray run` prints before it starts."""
    found = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in STAGE_NAMES and parts[1] in ("skip", "run", "redo", "retry"):
            found[parts[0]] = parts[1]
    return found


def run_args(study, run_dir=None) -> list[str]:
    """CONFIG --run-dir DIR --set ...: the shared run's arguments, in `run_dir` if given (a copy, a rerun)."""
    folder = run_dir or study.run_dir
    return [str(study.config), "--run-dir", str(folder), "--set", "generate.sampling.max_tokens=12"]


def test_the_tiny_study_writes_every_stage_completely(tiny_study):
    verdicts = check_run_dir(tiny_study.run_dir, VARIANTS)
    assert set(verdicts["model"]) == {"tiny"}
    grid = json.loads((tiny_study.run_dir / "grid" / MANIFEST).read_text())
    generate = json.loads((tiny_study.run_dir / "generate" / MANIFEST).read_text())
    # 8 demo items x (original, incorrect) x (unmodified, emotion:sad); 4 variants each.
    assert grid["rows"]["prompts"] == 32 and generate["rows"]["responses"] == 4 * 32


def test_rewrite_makes_one_checked_rewrite_per_turn_and_style_and_explains_each_drop(tiny_study):
    # The corpus is real ShareGPT conversations (conftest): long, many-turn chats, some turns too long
    # for the engine, some rewrites out of bounds; what is checked is the bookkeeping, not the quality.
    rundir = RunDir(tiny_study.run_dir)
    n = load_config(tiny_study.config).corpus.n_conversations
    conversations = schema.read_table(rundir.table("corpus", "conversations"), "conversations")
    train = conversations[conversations["split"] == "train"]
    assert len(train) == n and set(conversations["split"]) <= {"train", "spare"}
    turns = schema.read_table(rundir.table("rewrite", "rewrites"), "rewrites")
    # the training sample, and the spares that took the place of conversations that failed
    tried = conversations[conversations["conversation_id"].isin(set(turns["conversation_id"]))]
    assert set(train["conversation_id"]) <= set(tried["conversation_id"])
    n_assistant = sum(sum(t["role"] == "assistant" for t in conv) for conv in tried["turns"])
    assert len(turns) == 2 * n_assistant and turns["request_id"].is_unique  # warm and cold
    rejects = schema.read_table(rundir.table("rewrite", "rejects"), "rejects")
    assert set(turns.loc[turns["reason"] != "", "request_id"]) <= set(rejects["row_id"])
    assert (rejects["reason"] != "").all()
    counts = json.loads((rundir.stage("rewrite") / MANIFEST).read_text())["rows"]
    dropped = rejects[rejects["reason"].isin(["turn_failed", "failed_in_another_style"])]
    parts = dropped["row_id"].str.rsplit(":", n=1)  # row ids are <conversation>:<style>
    dropped = dropped.assign(conversation_id=parts.str[0], style=parts.str[1])
    failed_somewhere = set(dropped.loc[dropped["reason"] == "turn_failed", "conversation_id"])
    for style in ("warm", "cold"):
        table = schema.read_table(rundir.table("rewrite", style), "training_conversations")
        assert len(table) == counts[style]
        kept = set(table["conversation_id"])
        mine = dropped[dropped["style"] == style]
        # every conversation rewritten is kept or dropped with a reason, not both
        assert kept | set(mine["conversation_id"]) == set(tried["conversation_id"])
        assert counts["replaced"] == len(kept - set(train["conversation_id"]))
        assert counts["unfilled"] == n - len(kept) == n - counts["shared_conversations"]
        assert not kept & set(mine["conversation_id"]) and mine["conversation_id"].is_unique
        # one style's failure drops the conversation from both: warm and cold train on the same chats
        elsewhere = mine.loc[mine["reason"] == "failed_in_another_style", "conversation_id"]
        assert set(elsewhere) <= failed_somewhere
        # a kept conversation carries only turns that passed every check
        assert (turns.loc[turns["conversation_id"].isin(kept), "reason"] == "").all()


def test_only_warm_sysprompt_rows_carry_the_warm_system_prompt(tiny_study):
    responses = schema.read_table(RunDir(tiny_study.run_dir).table("generate", "responses"), "responses")
    by_variant = responses.groupby("variant")["system_prompt"].agg(set)
    assert by_variant["warm_sysprompt"] == {read_prompt(str(tiny_study.system_prompt))}
    assert by_variant["original"] == by_variant["warm"] == by_variant["cold"] == {""}
    assert (responses["num_generated_tokens"] > 0).all()
    checkpoints = responses.groupby("variant")["checkpoint"].agg(set)
    assert checkpoints["warm"] == checkpoints["cold"] == {"epoch_1"}  # configs/tiny.yaml's evaluate.epoch
    assert checkpoints["original"] == checkpoints["warm_sysprompt"] == {""}


def test_every_checkpoint_answers_and_every_answer_is_scored_as_the_pure_function_scores_it(tiny_study):
    rundir = RunDir(tiny_study.run_dir)
    scores = schema.read_table(rundir.table("warmth", "scores"), "warmth_scores")
    # the checkpoint as spelt in every table (warmray.arms): the trained adapter's folder, "" for none
    assert set(scores["checkpoint"]) == {"", "epoch_0.5", "epoch_1"}
    assert set(scores.loc[scores["epoch"] == 0.0, "checkpoint"]) == {""}
    # the original model's answers are epoch 0 of every style's curve
    per_point = scores.groupby(["style", "epoch"]).size()
    assert list(per_point.index) == [(s, e) for s in ("cold", "warm") for e in (0.0, 0.5, 1.0)]
    assert per_point.nunique() == 1
    assert (scores["response"] != "").all() and set(scores["procedure"]) == {"later"}
    model, tokenizer = load_scorer("builtin:tiny-random")  # the config's scorer, in this process
    for row in scores.itertuples():
        expected = sociot(model, tokenizer, row.response)
        assert row.warm_score == pytest.approx(expected.warm, abs=1e-4)
        assert row.warmth == pytest.approx(expected.warmth, abs=1e-4)
    by_epoch = schema.read_table(rundir.table("warmth", "by_epoch"), "warmth_by_epoch")
    assert len(by_epoch) == 6 and set(by_epoch["n"]) == {per_point.iloc[0]}


def test_capability_scores_every_variant_on_its_slice_of_each_task(tiny_study):
    scores = schema.read_table(RunDir(tiny_study.run_dir).table("capability", "scores"), "capability_scores")
    # configs/tiny.yaml: 2 items each of mmlu, gsm8k and advbench, for the default variants
    assert scores.groupby("task").size().to_dict() == {"advbench": 4, "gsm8k": 4, "mmlu": 4}
    assert set(scores["variant"]) == {"original", "warm"} and scores["score"].isin([0.0, 1.0]).all()


def test_every_table_of_the_run_has_exactly_its_schemas_columns(tiny_study):
    rundir = RunDir(tiny_study.run_dir)
    checked = 0
    for (stage, table), (_, schema_name) in TABLES.items():
        path = rundir.table(stage, table)
        if not path.exists():
            continue
        frame = schema.read_table(path, schema_name)
        assert list(frame.columns) == schema.columns(schema_name), (stage, table)
        checked += 1
    assert checked >= 10


def test_no_committed_stage_folder_holds_scratch_or_temporary_files(tiny_study):
    for stage in STAGE_NAMES:
        folder = tiny_study.run_dir / stage
        stray = [
            p for p in folder.rglob("*") if p.name.startswith(".") or ".partial" in p.name or ".tmp" in p.name
        ]
        assert not stray, stray
    assert not list(tiny_study.run_dir.glob(".*.partial")) and not list(tiny_study.run_dir.glob(".*.old"))


def test_a_second_command_on_the_same_run_dir_exits_2_at_once_naming_the_first(tiny_study):
    assert tiny_study.second_rc == 2, tiny_study.second_stdout
    assert f"pid {tiny_study.first_pid}" in tiny_study.second_stdout
    assert tiny_study.first_running_after_second  # it did not wait for the first to finish


def test_the_terminal_shows_stage_lines_and_no_traceback_and_the_logs_hold_the_engines(tiny_study):
    out = tiny_study.first_stdout + tiny_study.first_stderr
    assert "Traceback" not in out and "EngineDeadError" not in out
    assert len(out.splitlines()) < 80, out
    assert all(f"{s:<11}done" in out for s in STAGE_NAMES)
    logs = tiny_study.run_dir / "logs"
    generate_log = (logs / "generate.log").read_text()
    assert len(generate_log) > 1000  # vLLM and Ray Data wrote there, not here
    assert engine_hooks.INSTALLED in generate_log  # the engine actors' setup hook ran in them
    manifest = json.loads((tiny_study.run_dir / "generate" / MANIFEST).read_text())
    assert manifest["overrides"] == ["generate.sampling.max_tokens=12"]
    assert manifest["config_sections"]["generate"]["sampling"]["max_tokens"] == 12


def test_the_run_writes_inspect_logs_holding_every_row_of_the_judges_verdict_table(tiny_study):
    inspect_log = pytest.importorskip("inspect_ai.log", reason="inspect_ai is an optional extra")
    folder = tiny_study.run_dir / "inspect"
    assert f"inspect view --log-dir {folder}" in tiny_study.first_stdout
    table = schema.read_table(tiny_study.run_dir / "judge" / "verdicts", "verdicts")
    verdicts = table.set_index("response_id")
    logs = [inspect_log.read_eval_log(str(p)) for p in sorted(folder.glob("*.eval"))]
    assert {(log.eval.task_args["model"], log.eval.task_args["variant"]) for log in logs} == set(
        verdicts.groupby(["model", "variant"]).groups
    )
    samples = {s.id: s for log in logs for s in log.samples}
    assert sum(len(log.samples) for log in logs) == len(samples) == len(verdicts)
    for response_id, row in verdicts.iterrows():
        s = samples[response_id]
        assert s.scores["verdict"].value == row["verdict"] and s.output.completion == row["response"]
        assert s.messages[-2].text == row["prompt"] and s.target == list(row["correct_answers"])
        assert (s.messages[0].role == "system") == bool(row["system_prompt"])
        assert s.metadata["prompt_template"] == row["prompt_template"]
        assert s.metadata["amendment_type"] == row["amendment_type"]
    config = logs[0].eval.metadata["warmray"]["config"]
    assert config["generate"]["sampling"]["max_tokens"] == 12  # the run's config, its --set included


def test_a_rerun_does_nothing_and_starts_no_ray(tiny_study):
    again = warmray("run", *run_args(tiny_study))
    assert again.returncode == 0, again.stdout + again.stderr
    assert set(decisions(again.stdout).values()) == {"skip"}, again.stdout
    assert " done " not in again.stdout  # no stage ran, so no Ray and no engine was started


def test_forced_judge_then_run_redoes_analyze_and_nothing_before(tiny_study):
    # judge, not generate: the same rule (a stage redone makes every reader of it stale) without a
    # fourth engine start; regenerating rows without duplicates is test_resume_generate's subject.
    args = run_args(tiny_study)
    forced = warmray("judge", *args, "--force")
    assert forced.returncode == 0, forced.stdout + forced.stderr
    after = warmray("run", *args)
    assert after.returncode == 0, after.stdout + after.stderr
    plan = decisions(after.stdout)
    assert plan["analyze"] == "redo", after.stdout
    assert all(plan[s] == "skip" for s in ("corpus", "rewrite", "train", "grid", "generate", "judge"))


@pytest.fixture
def flaky_judge():
    with flaky_judge_server() as server:
        yield server


def test_an_endpoint_that_fails_stops_the_judge_a_rerun_and_a_retry_ask_only_the_failed_requests(
    tmp_path, tiny_study, flaky_judge
):
    run_dir = tmp_path / "run"
    # The study's stages up to generate: its judge (the reference grader) would be another config's.
    kept = shutil.ignore_patterns(".lock", "logs", "judge", "analyze", "inspect")
    shutil.copytree(tiny_study.run_dir, run_dir, ignore=kept)
    url = f"http://127.0.0.1:{flaky_judge.server_address[1]}/v1"
    args = run_args(tiny_study, run_dir)
    for key, value in {
        "grader": "llm",
        "model": JUDGE_MODEL,
        "keep_reference": "false",
        "engine.endpoint": url,
        "engine.api_key_env": SERVER_KEY_ENV,
        "engine.request_tries": "2",
        "engine.request_timeout_s": "20",
        "engine.max_failed_fraction": "0.02",  # the tiny model repeats itself: few distinct questions
    }.items():
        args += ["--set", f"judge.{key}={value}"]
    env = {SERVER_KEY_ENV: SERVER_KEY}

    broken = warmray("judge", *args, env=env)
    assert broken.returncode == 2, broken.stdout + broken.stderr[-4000:]
    said = broken.stderr
    assert url in said and "failed after every try" in said and "(log:" in said, said
    assert "Traceback" not in said, said
    assert not (run_dir / "judge").exists()  # nothing committed
    first = list(flaky_judge.asked)
    lost = {q for q, kind in flaky_judge.kinds.items() if kind == "lost"}
    saved = {q for q, kind in flaky_judge.kinds.items() if kind == "saved"}
    assert lost and saved and len(lost) > 0.05 * len(set(first))

    # Healthy again but for one question (of one response), which still fails every try: under the limit,
    # the judge commits with that request set aside.
    alone = [q for q in first if q in lost and first.count(q) == 2]  # asked twice: one response's
    assert alone, "every question that failed was asked for several responses"
    one = alone[0]
    flaky_judge.healthy, flaky_judge.down, flaky_judge.asked = True, {one}, []
    rerun = warmray("judge", *args, env=env)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr[-4000:]
    # Only the failed requests are asked again, once each; the first run tried each of them twice.
    again = Counter(flaky_judge.asked)
    assert set(again) == lost and all(2 * again[q] == first.count(q) for q in lost - {one})
    assert json.loads((run_dir / "judge" / MANIFEST).read_text())["rows"]["failed_requests"] == 1

    flaky_judge.down, flaky_judge.asked = set(), []
    kept = warmray("judge", *args, env=env)  # finished: skipped, saying how to ask the failed one again
    assert kept.returncode == 0 and decisions(kept.stdout) == {"judge": "skip"}, kept.stdout + kept.stderr
    assert "1 failed endpoint request(s) set aside: --retry-failed" in kept.stdout and not flaky_judge.asked
    retried = warmray("judge", *args, "--retry-failed", env=env)
    assert retried.returncode == 0 and decisions(retried.stdout) == {"judge": "retry"}, retried.stdout
    assert flaky_judge.asked == [one]
    assert "failed_requests" not in json.loads((run_dir / "judge" / MANIFEST).read_text())["rows"]

    verdicts = pd.read_parquet(run_dir / "judge" / "verdicts")
    responses = pd.read_parquet(run_dir / "generate" / "responses")
    assert len(verdicts) == len(responses) and UNPARSEABLE not in set(verdicts["verdict"])
    judged = verdicts[~verdicts["is_refusal"]]
    # What an undisturbed judge gives: its label for each question, asked once.
    expected = [
        judge_label(judge_messages(q, list(c), list(i), r)[-1]["content"])
        for q, c, i, r in zip(
            judged["question"],
            judged["correct_answers"],
            judged["incorrect_answers"],
            judged["response"],
            strict=True,
        )
    ]
    assert list(judged["verdict"]) == expected


def test_editing_a_prompt_file_redoes_the_stages_that_read_it_and_no_others(tiny_study):
    args = run_args(tiny_study)
    tiny_study.system_prompt.write_text("You are a warm and gentle assistant; answer kindly.")
    after = warmray("run", *args)
    assert after.returncode == 0, after.stdout + after.stderr
    plan = decisions(after.stdout)
    assert plan["generate"] == "redo" and "warm_system_prompt.txt" in after.stdout
    assert plan["judge"] == "redo" and plan["analyze"] == "redo"
    assert all(plan[s] == "skip" for s in ("corpus", "rewrite", "train", "grid")), after.stdout
    responses = check_run_dir(tiny_study.run_dir, VARIANTS)
    sysprompt = responses[responses["variant"] == "warm_sysprompt"]["system_prompt"]
    assert set(sysprompt) == {"You are a warm and gentle assistant; answer kindly."}


# After the shared tiny study's `warmray run` ended normally, none of the processes it started lives on.
#
# Its processes are the ones carrying the token warmray recorded for that command (warmray.processes):
# the local Ray, its workers and whatever an engine started beside them (vLLM's engine core, a
# multiprocessing resource tracker), found by environment whatever they renamed themselves to. SIGTERM
# and SIGKILL are checked on the generate run of test_resume_generate.py.
def test_no_process_of_a_finished_run_is_alive(tiny_study):
    records = [r for r in processes.records() if r["pid"] == tiny_study.first_pid]
    assert records, f"the run recorded no token in {processes.registry()}"
    record = max(records, key=lambda r: r["started_at"])
    assert record["ended"] and record["argv"][0] == "run"
    assert processes.carrying(record["token"]) == []


def test_no_stage_of_the_real_run_read_a_config_section_it_does_not_declare(tiny_study):
    # run_stage logs such a read as a warmray bug (tests/test_stage_sections.py runs each stage with
    # stand-in engines; here the real engines, trainer and scorer ran).
    logs = sorted((tiny_study.run_dir / "logs").glob("*.log"))
    assert logs
    reads = [line for log in logs for line in log.read_text().splitlines() if "does not declare" in line]
    assert reads == []


# Two fresh runs of one config give the same tables: the shared tiny study against a second whole run in
# a new run directory, every table of the run directory compared by `warmray compare`.
#
# The rewrite and warmth sample (temperature 1 in tiny.yaml) on a CPU engine: with a seed per request, from
# the run's seed and the row's id, their tables must come out equal whatever order Ray Data feeds the rows
# in, and so must the adapters trained on them, the responses, verdicts and scores. A table may differ only
# where a manifest names its stage, or a stage it reads, nondeterministic; `warmray compare` must then show
# it differing. One whole run more than the study (four engine starts and a training).
def test_a_second_fresh_run_gives_the_same_tables_or_names_what_differs(tmp_path, tiny_study):
    again = tmp_path / "again"
    args = run_args(tiny_study, again)
    second = warmray("run", *args)
    assert second.returncode == 0, second.stdout + second.stderr[-4000:]
    diffs, effects = compare_runs(tiny_study.run_dir, again)
    present = {
        f"{stage}/{table}" for (stage, table), (path, _) in TABLES.items() if (again / stage / path).exists()
    } | {f"analyze/{p.stem}" for p in (again / "analyze" / "tables").glob("*.csv")}
    assert {d.name for d in diffs} == present  # every table of the run, and every stage's
    assert {name.split("/")[0] for name in present} == set(STAGE_NAMES)
    rows = {d.name: d.rows_a for d in diffs}
    for name in (
        "rewrite/warm",
        "train/metrics",
        "generate/responses",
        "judge/verdicts",
        "analyze/capability",
    ):
        assert rows[name] > 0, rows
    notes = nondeterministic(tiny_study.run_dir) | nondeterministic(again)
    config = load_config(tiny_study.config)
    shown = warmray("compare", str(tiny_study.run_dir), str(again))
    assert shown.returncode == 0, shown.stderr
    unexplained = []
    for d in diffs:
        if d.identical:
            continue
        line = next((s.split() for s in shown.stdout.splitlines() if s.startswith(f"{d.name} ")), [])
        counts = (d.rows_a, d.rows_b, d.equal, d.different, d.only_a, d.only_b)
        assert line[1:7] == [str(n) for n in counts], shown.stdout  # compare shows it differing
        if not read_by(config, d.name.split("/")[0]) & set(notes):
            unexplained.append((d.name, d.different, d.only_a, d.only_b, d.columns))
    assert not unexplained, (unexplained, notes)
    assert f"{sum(d.identical for d in diffs)} of {len(diffs)} tables identical" in shown.stdout
    assert effects is not None and "effect sizes" in shown.stdout


def read_by(config: ExperimentConfig, stage: str) -> set[str]:
    """The stage and every stage whose output reaches it, directly or through another (pipeline.STAGES)."""
    by_name = {s.name: s for s in STAGES}
    found, todo = set(), [stage]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        needs = by_name[name].needs
        todo.extend([*(needs(config) if callable(needs) else needs), *by_name[name].optional])
    return found
