"""Ctrl-C and SLURM's requeue signal wait for the end of a batch; Lightning keeps our handlers."""

import os
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest
from lightning import Trainer
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.demos.boring_classes import BoringModel
from lightning.pytorch.trainer.connectors.signal_connector import _SignalConnector

from lstm_mnist.cli.signals import InterruptBetweenBatches, RequeueBetweenBatches


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


class SignalOnce(Callback):
    """Send this process SLURM's requeue signal at one moment of epoch 1, as SLURM would."""

    def __init__(self, hook: str, batch: int) -> None:
        self.hook, self.batch = hook, batch
        setattr(self, hook, self._maybe_send)

    def _maybe_send(self, trainer, pl_module, batch, batch_idx, *args) -> None:
        if trainer.current_epoch == 1 and batch_idx == self.batch and not trainer.sanity_checking:
            os.kill(os.getpid(), signal.SIGUSR1)


class Validations(Callback):
    """The (epoch, step) of every validation; kept in checkpoints, so a resumed fit goes on."""

    def __init__(self) -> None:
        self.done: list[tuple[int, int]] = []

    def on_validation_end(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking:
            self.done.append((trainer.current_epoch, trainer.global_step))

    def state_dict(self) -> dict:
        return {"done": list(self.done)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.done = [tuple(item) for item in state_dict["done"]]


def fit(root: Path, callbacks: list, ckpt_path=None, **trainer_args) -> Validations:
    validations = Validations()
    trainer = Trainer(
        default_root_dir=root,
        plugins=[SLURMEnvironment(auto_requeue=True)],
        callbacks=[RequeueBetweenBatches(), validations, *callbacks],
        max_epochs=3,
        limit_train_batches=4,
        limit_val_batches=2,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **trainer_args,
    )
    trainer.fit(BoringModel(), ckpt_path=ckpt_path)
    return validations


@pytest.mark.parametrize(
    ("hook", "batch", "trainer_args"),
    [
        ("on_train_batch_start", 3, {}),  # the epoch's last batch: validation follows it
        ("on_validation_batch_start", 0, {}),
        ("on_train_batch_start", 1, {"val_check_interval": 2}),  # a validation mid-epoch
        ("on_train_batch_start", 2, {}),  # a batch that no validation follows
    ],
)
def test_a_fit_resumed_from_the_requeue_checkpoint_loses_no_validation(
    hook, batch, trainer_args, tmp_path, monkeypatch
):
    # Job 0 does not exist: Lightning's `scontrol requeue 0` fails and the fit goes on, as if
    # SLURM had not stopped it. What counts is what the checkpoint it saved holds.
    monkeypatch.setenv("SLURM_JOB_ID", "0")
    monkeypatch.delenv("SLURM_ARRAY_JOB_ID", raising=False)
    whole = fit(tmp_path / "whole", [], **trainer_args).done
    signalled = tmp_path / "signalled"
    fit(signalled, [SignalOnce(hook, batch)], **trainer_args)
    (checkpoint,) = signalled.glob("hpc_ckpt_*.ckpt")
    resumed = fit(tmp_path / "resumed", [], ckpt_path=checkpoint, **trainer_args).done
    assert resumed == whole  # every validation once, at the same step


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
