"""A retried generate stage asks only its failed endpoint requests and keeps every other response.

No engine runs here: `warmray.infer.answer` is an endpoint whose requests for some rows fail.
"""

import pandas as pd
from failing_endpoint import FailingEndpoint
from test_arms import committed, grid_prompts, tiny_config

from warmray import infer
from warmray.schema import read_table
from warmray.stage import FAILED_REQUESTS, StageContext
from warmray.stages import generate


def test_a_retried_generate_asks_only_its_failed_requests_and_keeps_the_rows_in_order(tmp_path, monkeypatch):
    cfg = tiny_config(tmp_path)
    cfg = cfg.model_copy(update={"generate": cfg.generate.model_copy(update={"variants": ["original"]})})
    run = tmp_path / "run"
    prompts = pd.concat([grid_prompts()] * 3, ignore_index=True)
    prompts["prompt_id"] = [f"demo:{i}|original|unmodified" for i in range(3)]
    committed(run, "grid", "prompts", prompts)
    endpoint = FailingEndpoint({"tiny|original|demo:1|original|unmodified"}, "Four.", "HTTP 429")
    monkeypatch.setattr(infer, "answer", endpoint)
    out = tmp_path / "out"
    out.mkdir()
    assert generate.run(StageContext(cfg, run), out)[FAILED_REQUESTS] == 1
    first = read_table(out / "responses" / "tiny.parquet", "responses")
    endpoint.down = set()
    counts = generate.run(StageContext(cfg, run), out)
    assert endpoint.asked[1] == ["tiny|original|demo:1|original|unmodified"] and FAILED_REQUESTS not in counts
    again = read_table(out / "responses" / "tiny.parquet", "responses")
    assert list(again["response_id"]) == list(first["response_id"])
    assert (again["response"] == "Four.").all() and (again["inference_error"] == "").all()
