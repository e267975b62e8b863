"""The OpenAI-compatible endpoint path through a real vLLM server: the key is sent and never written.

(A failing endpoint is test_tiny_study.py's subject: it judges that study's responses, so it shares its run.)
"""

import os
import subprocess
import sys

import pandas as pd
import pytest
from e2e_helpers import SERVER_KEY

pytestmark = pytest.mark.slow


ANSWER_THREE = """
import sys
from pathlib import Path
import pandas as pd
from warmray import infer
from warmray.config import EngineConfig, RayConfig, SamplingConfig
from warmray.runtime import ensure_ray

if __name__ == "__main__":
    endpoint, folder = sys.argv[1], Path(sys.argv[2])
    ensure_ray(RayConfig())
    asks = pd.DataFrame({
        "row_id": ["a", "b", "c"],
        "messages": [[{"role": "user", "content": q}] for q in ("Hello?", "What is 2+2?", "Name a colour.")],
    })
    engine = EngineConfig(endpoint=endpoint, api_key_env="WARMRAY_TEST_KEY")
    sampling = SamplingConfig(max_tokens=8)
    done = infer.answer(asks, "row_id", folder / "raw", "tiny", engine, sampling, label="http")
    done.to_parquet(folder / "answers.parquet")
"""


def test_the_inference_path_through_an_endpoint_sends_the_key_but_never_writes_it(tmp_path, tiny_server):
    script = tmp_path / "answer_three.py"
    script.write_text(ANSWER_THREE)
    proc = subprocess.run(
        [sys.executable, str(script), tiny_server, str(tmp_path / "out")],
        env=os.environ | {"WARMRAY_TEST_KEY": SERVER_KEY},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    answers = pd.read_parquet(tmp_path / "out" / "answers.parquet")
    assert list(answers["row_id"]) == ["a", "b", "c"]
    assert (answers["num_generated_tokens"] > 0).all() and (
        answers["inference_error"] == ""
    ).all()  # key accepted
    written = [p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert not any(SERVER_KEY.encode() in blob for blob in written)
    assert SERVER_KEY not in proc.stdout + proc.stderr
