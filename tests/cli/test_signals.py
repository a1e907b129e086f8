"""Ctrl-C waits for the end of a batch; Python's own handler is back after a fit."""

import os
import signal

import pytest
from lightning import Trainer
from lightning.pytorch.demos.boring_classes import BoringModel

from lstm_mnist.cli.signals import InterruptBetweenBatches


@pytest.fixture
def sigint_restored():
    before = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, before)


def test_ctrl_c_is_raised_at_the_next_batch_end_not_when_it_comes(sigint_restored):
    callback = InterruptBetweenBatches()
    callback.on_fit_start(None, None)
    os.kill(os.getpid(), signal.SIGINT)  # no KeyboardInterrupt here, inside whatever runs
    with pytest.raises(KeyboardInterrupt):
        callback.on_validation_batch_end(None)
    callback.on_train_batch_end(None)  # once per Ctrl-C
    with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C interrupts at once
        os.kill(os.getpid(), signal.SIGINT)


def test_a_ctrl_c_after_the_last_batch_still_stops_the_fit(sigint_restored):
    callback = InterruptBetweenBatches()
    callback.on_fit_start(None, None)
    os.kill(os.getpid(), signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        callback.on_train_end(None, None)


def test_python_s_handler_is_back_after_the_fit_and_an_ignored_ctrl_c_stays_ignored(
    sigint_restored,
):
    callback = InterruptBetweenBatches()
    callback.on_fit_start(None, None)
    callback.teardown(None, None, "fit")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a background job
    callback.on_fit_start(None, None)
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


class _FailingModel(BoringModel):
    def training_step(self, batch, batch_idx):
        raise ValueError("a fit that fails")


def test_after_a_failed_fit_ctrl_c_interrupts_and_the_next_fit_defers_it_again(sigint_restored):
    # Lightning puts back the handlers it found after on_fit_start (ours) when a fit fails.
    trainer = Trainer(
        max_steps=1,
        callbacks=[InterruptBetweenBatches()],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    with pytest.raises(ValueError, match="a fit that fails"):
        trainer.fit(_FailingModel())
    with pytest.raises(KeyboardInterrupt):  # what Python's own handler does, not a TypeError
        os.kill(os.getpid(), signal.SIGINT)
    callback = InterruptBetweenBatches()
    callback.on_fit_start(None, None)
    os.kill(os.getpid(), signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        callback.on_train_batch_end(None)
