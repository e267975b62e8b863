"""The terminal's bookkeeping: which logged warnings the run's summary counts."""

import logging

from warmray.console import Console, CountWarnings


def test_the_summary_counts_warmrays_warnings_and_not_a_librarys_notices():
    console = Console(verbose=True)
    handler = CountWarnings(console)
    logger = logging.getLogger("warmray.tests.console")
    for name, level in [
        ("warmray.infer", logging.WARNING),
        ("warmray", logging.ERROR),
        ("warmray.stages.judge", logging.INFO),
        ("vllm.triton_utils.importing", logging.WARNING),
        ("warmrayish", logging.WARNING),
    ]:
        record = logger.makeRecord(name, level, __file__, 1, "a message", None, None)
        if record.levelno >= handler.level:  # what logging.Logger.handle checks before emit
            handler.handle(record)
    assert console.warnings == 2
