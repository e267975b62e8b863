"""Ctrl-C during training is warmray's interrupt, and Ctrl-C keeps working after training.

Ray Train's `fit` installs a SIGINT handler (a graceful abort ending in `sys.exit(0)`) and leaves it
installed. The fakes below do what it does, through its registration hook or directly.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from warmray.stages.train import run_trainer


def ctrl_c() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(2)  # the signal arrives while "training" waits
    raise AssertionError("SIGINT was swallowed")


def ray_like_handler(signum, frame):
    sys.exit(0)  # what Ray Train's handler ends with once its controller is gone


class HookTrainer:
    """Registers its SIGINT handler through the hook Ray Train 2.60 uses, then is interrupted."""

    def _register_sigint_handler(self, controller):
        signal.signal(signal.SIGINT, ray_like_handler)

    def fit(self):
        self._register_sigint_handler(object())
        ctrl_c()


class DirectTrainer:
    """Installs its handler another way (a later Ray version), then is interrupted."""

    def fit(self):
        signal.signal(signal.SIGINT, ray_like_handler)
        ctrl_c()


class FinishingTrainer:
    """Installs its handler and finishes normally."""

    def fit(self):
        signal.signal(signal.SIGINT, ray_like_handler)
        return "result"


@pytest.mark.parametrize("trainer", [HookTrainer(), DirectTrainer()], ids=["ray-hook", "other-way"])
def test_ctrl_c_during_training_is_a_keyboard_interrupt_and_the_handler_is_put_back(trainer):
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        run_trainer(trainer)
    assert signal.getsignal(signal.SIGINT) is before


def test_ctrl_c_after_training_reaches_the_next_stage():
    assert run_trainer(FinishingTrainer()) == "result"
    with pytest.raises(KeyboardInterrupt):
        ctrl_c()  # a later stage: interrupted, not swallowed
