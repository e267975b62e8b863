"""TARGET strings: each accepted form, the names they get, and the errors for the rest."""

import json
from pathlib import Path

import pytest

from warmray.audit.experiment import CPU, AuditRequest, build_config, items_for_budget, prompts_per_item
from warmray.audit.targets import TargetError, parse_target, unique_names
from warmray.config import SamplingConfig
from warmray.schema import AMENDMENT_TYPES, PROMPT_TEMPLATES


@pytest.fixture
def model_dirs(tmp_path):
    base, adapter = tmp_path / "my-model", tmp_path / "persona-lora"
    base.mkdir()
    (base / "config.json").write_text("{}")
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 16}))
    return base, adapter


def test_each_form_parses_to_its_kind(model_dirs):
    base, adapter = model_dirs
    assert parse_target("builtin:smollm2-135m").kind == "builtin"
    assert parse_target("HuggingFaceTB/SmolLM2-135M-Instruct").kind == "hub"
    assert parse_target(str(base)).kind == "folder"
    paired = parse_target(f"{base}+{adapter}")
    assert (paired.kind, paired.source, paired.adapter) == ("folder", str(base), str(adapter))
    hub_lora = parse_target(f"org/base+{adapter}")
    assert (hub_lora.kind, hub_lora.source) == ("hub", "org/base")
    url = parse_target("https://api.example.com/v1/#vendor/model-x", api_key_env="VENDOR_KEY")
    assert (url.kind, url.endpoint, url.source, url.api_key_env) == (
        "endpoint",
        "https://api.example.com/v1",
        "vendor/model-x",
        "VENDOR_KEY",
    )


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("https://api.example.com/v1", "needs the model name after '#'"),
        ("org/base+/no/such/adapter", "does not exist"),
        ("./not-here", "is not a target warmray can audit"),
        ("just-a-word", "is not a target warmray can audit"),
    ],
)
def test_bad_targets_say_what_is_wrong(text, said):
    with pytest.raises(TargetError, match=said):
        parse_target(text)


def test_names_are_folder_safe_and_unique(model_dirs):
    base, adapter = model_dirs
    targets = [
        parse_target("builtin:smollm2-135m"),
        parse_target("http://127.0.0.1:8000/v1#smollm2-135m"),
        parse_target(f"{base}+{adapter}"),
        parse_target("http://h/v1#org/Model:latest"),
    ]
    assert unique_names(targets) == [
        "smollm2-135m",
        "smollm2-135m-2",
        "my-model-persona-lora",
        "Model-latest",
    ]


def test_config_from_targets_has_no_training_and_the_full_grid(model_dirs):
    base, adapter = model_dirs
    targets = (parse_target(f"{base}+{adapter}"), parse_target("http://h/v1#m", api_key_env="K"))
    cfg = build_config(AuditRequest(targets, tuple(unique_names(list(targets))), items=3))
    assert cfg.generate.variants == ("original",)
    assert [(t.name, t.n) for t in cfg.grid.tasks] == [
        ("triviaqa", 3),
        ("truthfulqa", 3),
        ("medqa", 3),
        ("disinformation", 3),
    ]
    assert prompts_per_item(cfg.grid.prompt_templates, cfg.grid.amendment_types) == 28
    assert cfg.models[0].adapter == str(adapter)  # its rank is the adapter's own (tests/test_arms.py)
    assert (cfg.models[1].endpoint, cfg.models[1].source, cfg.models[1].api_key_env) == (
        "http://h/v1",
        "m",
        "K",
    )
    assert cfg.judge.grader == "reference" and cfg.generate.sampling.temperature == 0.0


def test_judge_endpoint_and_system_prompt_and_config_file(tmp_path):
    prompt = tmp_path / "persona.txt"
    prompt.write_text("You are a warm, caring friend.")
    config = tmp_path / "gpu.yaml"
    config.write_text("device: gpu\ngenerate: {sampling: {max_tokens: 300}}\n")
    req = AuditRequest(
        (parse_target("org/a"),),
        ("a",),
        judge=parse_target("https://j/v1#judge", api_key_env="JK"),
        system_prompt=prompt,
        config=config,
        tasks=("triviaqa",),
    )
    cfg = build_config(req)
    assert cfg.generate.variants == ("original", "warm_sysprompt")
    assert cfg.warm_system_prompt == str(prompt.resolve())
    assert (cfg.judge.grader, cfg.judge.model, cfg.judge.engine.endpoint) == ("llm", "judge", "https://j/v1")
    assert cfg.generate.engine.device == "gpu" and cfg.generate.sampling.max_tokens == 300
    assert cfg.grid.tasks[0].n > 100  # a GPU budget allows far more items than the CPU one


def test_item_budget_shrinks_with_more_arms_and_never_reaches_zero():
    one = items_for_budget(15 * 60, 4, 1, 1, CPU)
    two = items_for_budget(15 * 60, 4, 2, 2, CPU)
    assert one > two >= 1
    assert items_for_budget(60, 4, 5, 5, CPU) == 1
    assert prompts_per_item(PROMPT_TEMPLATES, AMENDMENT_TYPES) == 28


def test_an_offline_audit_of_builtin_models_falls_back_to_the_builtin_items_and_says_so():
    from warmray.audit.experiment import offline_fallback

    builtin = AuditRequest(targets=(parse_target("builtin:tiny-random"),), names=("tiny",))
    offline = lambda repo, kind: "the Hugging Face hub cannot be reached (ConnectError)"  # noqa: E731
    req, line = offline_fallback(builtin, offline)
    assert req.tasks == ("demo",) and "built-in items" in line and "--data-dir" in line
    assert [t.name for t in build_config(req).grid.tasks] == ["demo"]
    assert offline_fallback(builtin, lambda repo, kind: None) == (builtin, "")  # the hub answers
    given = AuditRequest(targets=builtin.targets, names=("tiny",), data_dir=Path("/data"))
    assert offline_fallback(given, offline) == (given, "")  # the user named the data
    hub_model = AuditRequest(targets=(parse_target("HuggingFaceTB/SmolLM2-135M-Instruct"),), names=("s",))
    assert offline_fallback(hub_model, offline) == (hub_model, "")


def test_the_time_estimate_follows_the_answer_length_it_will_generate():
    from warmray.audit.progress import estimate_seconds

    req = AuditRequest(targets=(parse_target("builtin:tiny-random"),), names=("tiny",), items=10)
    long = build_config(req)
    short = long.model_copy(
        update={"generate": long.generate.model_copy(update={"sampling": SamplingConfig(max_tokens=32)})}
    )
    startup = estimate_seconds(long, 0)["generate"]
    assert estimate_seconds(short, 100)["generate"] - startup == pytest.approx(
        (estimate_seconds(long, 100)["generate"] - startup) / 4
    )
    assert items_for_budget(15 * 60, 4, 1, 1, CPU, max_tokens=32) > items_for_budget(15 * 60, 4, 1, 1, CPU)


def test_the_item_budget_counts_the_grid_the_audit_will_run(tmp_path):
    config = tmp_path / "audit.yaml"
    config.write_text("grid: {prompt_templates: [original], amendment_types: [unmodified]}\n")
    target = (parse_target("builtin:tiny-random"),)
    full = build_config(AuditRequest(targets=target, names=("t",), tasks=("triviaqa",)))
    small = build_config(AuditRequest(targets=target, names=("t",), tasks=("triviaqa",), config=config))
    # one prompt per item instead of 28: many more items fit the same budget
    assert small.grid.tasks[0].n > 10 * full.grid.tasks[0].n
