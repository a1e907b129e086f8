"""SLURM's requeue signal, against the installed Lightning: what requeue.py relies on still holds.

If a Lightning release installs its own requeue handler over ours, or resumes a checkpoint saved
as a batch starts differently, these fail instead of a job on a cluster.
"""

import os
import signal
from pathlib import Path

import pytest
from lightning import Trainer
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.demos.boring_classes import BoringModel

from lstm_mnist.cli.requeue import RequeueBetweenBatches, requeue_callback


@pytest.fixture
def slurm_job(monkeypatch):
    """This process as a SLURM job's task, with its signal handlers put back afterwards.

    Job 0 does not exist: `scontrol requeue 0` fails (or there is no scontrol) and the fit goes
    on, as if SLURM had not stopped it. What counts is what the checkpoint it saved holds.
    """
    monkeypatch.setenv("SLURM_JOB_ID", "0")
    monkeypatch.setenv("SLURM_NTASKS", "1")
    monkeypatch.setenv("SLURM_JOB_NAME", "lstm-mnist")
    monkeypatch.delenv("SLURM_ARRAY_JOB_ID", raising=False)
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGUSR1, signal.SIGTERM)}
    yield
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


class HandlerSeen(Callback):
    """What handles the requeue signal once Lightning has registered its own handlers."""

    def on_train_batch_start(self, *args) -> None:
        self.handler = signal.getsignal(signal.SIGUSR1)


def fit(root: Path, callbacks: list, ckpt_path=None, **trainer_args) -> Validations:
    validations = Validations()
    settings = {"max_epochs": 3, "limit_train_batches": 4, "limit_val_batches": 2, **trainer_args}
    trainer = Trainer(
        default_root_dir=root,
        plugins=[SLURMEnvironment(auto_requeue=True)],
        callbacks=[RequeueBetweenBatches(), validations, *callbacks],
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **settings,
    )
    trainer.fit(BoringModel(), ckpt_path=ckpt_path)
    return validations


# A checkpoint saved between batches resumes mid-epoch, which is the point: Lightning says so.
@pytest.mark.filterwarnings("ignore:You're resuming from a checkpoint that ended before the epoch")
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
    hook, batch, trainer_args, tmp_path, slurm_job
):
    whole = fit(tmp_path / "whole", [], **trainer_args).done
    signalled = tmp_path / "signalled"
    fit(signalled, [SignalOnce(hook, batch)], **trainer_args)
    (checkpoint,) = signalled.glob("hpc_ckpt_*.ckpt")
    assert checkpoint.name == "hpc_ckpt_1.ckpt"  # Lightning's name, which --ckpt_path hpc finds
    resumed = fit(tmp_path / "resumed", [], ckpt_path=checkpoint, **trainer_args).done
    assert resumed == whole  # every validation once, at the same step


def test_lightning_installs_no_handler_over_ours(tmp_path, slurm_job):
    seen = HandlerSeen()
    fit(tmp_path, [seen], max_epochs=1)
    assert getattr(seen.handler, "__self__", None).__class__ is RequeueBetweenBatches


def test_a_fit_under_slurm_gets_the_callback_unless_requeueing_is_off(slurm_job):
    assert isinstance(requeue_callback([]), RequeueBetweenBatches)
    assert requeue_callback([SLURMEnvironment(auto_requeue=False)]) is None
    other = requeue_callback([SLURMEnvironment(requeue_signal=signal.SIGUSR2)])
    assert other.signal == signal.SIGUSR2
