"""What generate asks of an audited model: its own adapter on every row, the persona prompt as system."""

import json

import pandas as pd

from warmray.arms import arm_requests, stage_arms
from warmray.audit.experiment import AuditRequest, build_config
from warmray.audit.targets import parse_target, unique_names
from warmray.stage import StageContext


def test_a_base_plus_adapter_target_sends_every_row_through_its_adapter(tmp_path):
    base, adapter, prompt = tmp_path / "base", tmp_path / "lora", tmp_path / "persona.txt"
    base.mkdir()
    (base / "config.json").write_text("{}")
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 8}))
    prompt.write_text("You are warm and caring.\n")
    targets = (parse_target(f"{base}+{adapter}"),)
    cfg = build_config(
        AuditRequest(targets, tuple(unique_names(list(targets))), items=1, system_prompt=prompt)
    )
    prompts = pd.DataFrame({"prompt_id": ["a|original|unmodified"], "prompt": ["What is 2+2?"]})
    rows = arm_requests(stage_arms(StageContext(cfg, tmp_path / "run"), "generate", cfg.models[0]), prompts)
    assert list(rows["variant"]) == ["original", "warm_sysprompt"]
    # the shipped adapter is the model as configured: no checkpoint of this run answered
    assert (rows["adapter"] == str(adapter.resolve())).all() and (rows["checkpoint"] == "").all()
    assert rows["messages"].iloc[0] == [{"role": "user", "content": "What is 2+2?"}]
    assert rows["messages"].iloc[1][0] == {"role": "system", "content": "You are warm and caring."}
