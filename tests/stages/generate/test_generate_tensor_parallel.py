"""generate.engine.tensor_parallel_size is honoured; a model's own setting wins only when it sets one."""

import pandas as pd
import pytest

from warmray.config import ExperimentConfig
from warmray.stage import StageContext
from warmray.stages import generate


@pytest.mark.parametrize(("model_extra", "expected"), [({}, 4), ({"tensor_parallel_size": 2}, 2)])
def test_one_place_decides_the_tensor_parallel_size(tmp_path, monkeypatch, model_extra, expected):
    cfg = ExperimentConfig.model_validate(
        {
            "models": [{"name": "m", "source": "x/y", **model_extra}],
            "generate": {"engine": {"tensor_parallel_size": 4}},
        }
    )
    seen = {}

    def answer(requests, key, raw, model, engine, *args, **kwargs):
        seen["tp"] = engine.tensor_parallel_size
        return requests

    monkeypatch.setattr(generate.infer, "answer", answer)
    requests = pd.DataFrame({"response_id": ["r1"], "adapter": [""]})
    generate._answer(requests, StageContext(cfg, tmp_path), cfg.models[0], tmp_path / "raw")
    assert seen["tp"] == expected
