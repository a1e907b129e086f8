"""Ctrl-C and SLURM's requeue signal wait for the end of a batch; Lightning keeps our handlers."""

import os
import signal
from types import SimpleNamespace

import pytest
from lightning import Trainer
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.demos.boring_classes import BoringModel
from lightning.pytorch.trainer.connectors.signal_connector import _SignalConnector

from lstm_mnist.signals import InterruptBetweenBatches, RequeueBetweenBatches


@pytest.fixture
def trainer():
    calls = []
    environment = SLURMEnvironment(auto_requeue=True)
    fake = SimpleNamespace(
        _accelerator_connector=SimpleNamespace(cluster_environment=environment),
        _signal_connector=SimpleNamespace(_slurm_sigusr_handler_fn=lambda s, f: calls.append(s)),
        calls=calls,
    )
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGUSR1, signal.SIGTERM)}
    yield fake
    for sig, handler in before.items():
        signal.signal(sig, handler)


def test_the_requeue_waits_for_the_next_training_batch_end_not_validation(trainer):
    callback = RequeueBetweenBatches()
    callback.on_fit_start(trainer, None)
    os.kill(os.getpid(), signal.SIGUSR1)
    assert trainer.calls == []  # not inside whatever the main thread was doing
    callback.on_validation_batch_end(trainer, None, None, None, 0)
    assert trainer.calls == []  # a checkpoint saved mid-validation resumes without its end
    callback.on_train_batch_end(trainer)
    assert trainer.calls == [signal.SIGUSR1]
    callback.on_train_batch_end(trainer)
    assert trainer.calls == [signal.SIGUSR1]  # once per signal


def test_lightning_installs_no_handler_over_ours(trainer):
    callback = RequeueBetweenBatches()
    callback.on_fit_start(trainer, None)
    ours = signal.getsignal(signal.SIGUSR1)
    _SignalConnector(trainer).register_signal_handlers()  # what Trainer.fit does next
    assert signal.getsignal(signal.SIGUSR1) == ours


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
