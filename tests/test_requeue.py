"""SLURM's requeue signal waits for the end of a batch, and Lightning keeps our handler."""

import os
import signal
from types import SimpleNamespace

import pytest
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.trainer.connectors.signal_connector import _SignalConnector

from lstm_mnist.requeue import RequeueBetweenBatches


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


def test_the_signal_is_handled_at_the_next_batch_end_not_when_it_comes(trainer):
    callback = RequeueBetweenBatches()
    callback.on_fit_start(trainer, None)
    os.kill(os.getpid(), signal.SIGUSR1)
    assert trainer.calls == []  # not inside whatever the main thread was doing
    callback.on_train_batch_end(trainer)
    assert trainer.calls == [signal.SIGUSR1]
    callback.on_validation_batch_end(trainer)
    assert trainer.calls == [signal.SIGUSR1]  # once per signal


def test_lightning_installs_no_handler_over_ours(trainer):
    callback = RequeueBetweenBatches()
    callback.on_fit_start(trainer, None)
    ours = signal.getsignal(signal.SIGUSR1)
    _SignalConnector(trainer).register_signal_handlers()  # what Trainer.fit does next
    assert signal.getsignal(signal.SIGUSR1) == ours
