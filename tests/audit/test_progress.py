"""Progress lines: the time left follows the pace of the long stages, not Ray's start-up."""

from warmray.audit import progress


class _Clock:
    def __init__(self):
        self.now = 1_000.0

    def __call__(self):
        return self.now


def test_eta_is_rescaled_by_generate_not_by_a_slow_grid(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(progress.time, "time", clock)
    lines = []
    bar = progress.Progress({"grid": 10, "generate": 100, "judge": 10, "analyze": 40}, say=lines.append)
    bar.start("grid", "building")
    assert "about 2m40s left" in lines[-1]
    clock.now += 60  # Ray's start-up made the grid slow
    bar.finish("grid", skipped=False)
    bar.start("generate", "answering")
    assert "about 2m30s left" in lines[-1]
    clock.now += 200  # the engine is twice as slow as assumed
    bar.finish("generate", skipped=False)
    bar.start("judge", "grading")
    assert "about 1m40s left" in lines[-1]
    bar.finish("judge", skipped=True)
    assert lines[-1].startswith("[audit] judge: already finished")
