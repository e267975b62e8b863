"""Progress that moves: rates and ETAs that ignore an engine's start-up, quiet logs, and an engine stage
whose line advances request by request before any block is written."""

from __future__ import annotations

import pandas as pd
import pytest

from warmray import progress
from warmray.console import quiet_line_due
from warmray.progress import Meter, Update


def test_the_rate_is_measured_from_the_first_rows_not_from_the_engine_start():
    meter = Meter("generate", total=100, started_done=0, now=0.0)
    assert meter.read(0, 30.0).eta_s is None  # the engine is loading: no rate, no ETA
    assert meter.read(0, 58.0).eta_s is None
    first = meter.read(10, 60.0)  # 10 rows in the 2 s since the last quiet reading
    assert first.rate == pytest.approx(5.0) and first.eta_s == pytest.approx(18.0)
    later = meter.read(30, 66.0, tokens=600)
    assert later.rate == pytest.approx(30 / 8) and later.tokens_per_s == pytest.approx(600 / 8)
    assert "ETA" in later.line() and "tok/s" in later.line()


def test_a_resumed_step_counts_only_its_own_rows():
    meter = Meter("judge", total=100, started_done=40, now=0.0)
    assert meter.read(40, 10.0).rate == 0.0
    assert meter.read(50, 12.0).rate == pytest.approx(5.0)


def test_a_log_that_is_not_a_terminal_gets_a_line_per_interval_only_when_the_count_moved():
    def update(done: int, label: str = "generate") -> Update:
        return Update(label, done, 128, 0.0, None)

    assert quiet_line_due(update(0), None, 0.0)  # a step's first reading
    assert not quiet_line_due(update(0), ("generate", 0), 300.0)  # the same line again: never
    assert not quiet_line_due(update(5), ("generate", 0), 10.0)  # moved, but within the interval
    assert quiet_line_due(update(5), ("generate", 0), 31.0)
    assert quiet_line_due(update(128), ("generate", 5), 1.0)  # the end
    assert quiet_line_due(update(0, "judge"), ("generate", 128), 1.0)  # the next step's start


@pytest.mark.slow
def test_an_engine_stage_reports_requests_as_they_finish_before_its_block_is_written(tmp_path):
    """One block of 16 rows, decoded one at a time: written rows stay 0 until the end, the line must not.

    One at a time and 160 tokens each, so the decode spans several 2 s readings (at 4 at a time and 48
    tokens the tiny model decoded all 16 between two readings on an idle machine).
    """
    import ray

    from warmray import resumable
    from warmray.config import EngineConfig, RayConfig, SamplingConfig
    from warmray.infer import answer
    from warmray.runtime import ensure_ray

    engine = EngineConfig(max_model_len=512, cpu_kvcache_gib=1, batch_size=16, max_num_seqs=1)
    sampling = SamplingConfig(temperature=1.0, max_tokens=160)
    requests = pd.DataFrame(
        {
            "key": [f"r{i}" for i in range(16)],
            "messages": [[{"role": "user", "content": f"Count to {i}."}] for i in range(16)],
        }
    )
    folder = tmp_path / "answers"
    seen: list[tuple[int, int]] = []  # (rows on the line, rows written) at each reading

    def sink(update: Update) -> None:
        seen.append((update.done, resumable.count_rows(folder)))

    ensure_ray(RayConfig(num_cpus=8))
    progress.set_sink(sink)
    try:
        done = answer(requests, "key", folder, "builtin:tiny-random", engine, sampling, label="t")
    finally:
        progress.set_sink(None)
        ray.shutdown()
    assert len(done) == 16 and seen[-1][0] == 16
    moving = [(line, written) for line, written in seen if 0 < line < 16 and written < line]
    assert moving, f"the line only moved with written blocks: {seen}"
