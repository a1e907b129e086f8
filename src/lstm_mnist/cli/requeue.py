"""SLURM's requeue signal, handled between batches (Lightning-AI/pytorch-lightning#21406).

Lightning acts on the requeue signal (``--signal=SIGUSR1@90``) inside the signal handler: it saves
``hpc_ckpt_<n>.ckpt`` and runs ``scontrol requeue`` wherever the main thread happens to be. When
that is inside TensorBoard's writer, which holds its queue's lock while it logs, the handler's
first step (flushing that writer) waits for the lock forever and the job hangs (seen in one of four
runs of tests/cli/test_slurm.py, 2026-12-02, py-spy showing the flush waiting; upstream #21406,
with a fix proposed in #21407). So this callback takes the signal first, which keeps Lightning from
installing a handler of its own, only notes it, and does what Lightning's handler does at the
start of the next training batch or at the end of the epoch, after its validation and checkpoints:
never during a validation or between a batch and the validation that follows it, because
Lightning resumes a checkpoint saved there without that validation (an epoch's val/acc and its
chance at the best checkpoint lost: tests/cli/test_slurm.py, 2026-12-04 and 2026-12-05).

It uses Lightning's public surface only. What it relies on in Lightning's behaviour (no requeue
handler installed over one already there; a checkpoint saved as a batch starts resumes that
epoch, validations included) is tested against the installed Lightning in tests/cli/test_requeue.py,
so an upgrade that changes it fails a test, not a job. When Lightning handles the signal between
batches itself (#21407), this module goes.
"""

import logging
import os
import re
import signal
import subprocess
from pathlib import Path

from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info
from typing_extensions import override

log = logging.getLogger(__name__)
REQUEUE_CHECKPOINT = re.compile(r"hpc_ckpt_(\d+)\.ckpt")  # Lightning's name for it


class RequeueBetweenBatches(Callback):
    """On SLURM's requeue signal: save ``hpc_ckpt_<n>.ckpt``, requeue the job; between batches."""

    def __init__(self, requeue_signal: signal.Signals = signal.SIGUSR1) -> None:
        """Handle this signal: SLURMEnvironment's requeue signal, SIGUSR1 unless set otherwise."""
        self.signal = requeue_signal
        self.pending = False

    @override
    def on_fit_start(self, trainer, pl_module) -> None:
        # Before Lightning registers its handlers (after on_fit_start), which then leave ours.
        signal.signal(self.signal, self._note)

    def _note(self, signum, frame) -> None:
        self.pending = True

    @override
    def on_train_batch_start(self, trainer, *args) -> None:
        self._requeue(trainer)  # after any validation that followed the batch before

    @override
    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._requeue(trainer)  # after the epoch's validation and its checkpoints

    def _requeue(self, trainer) -> None:
        if not self.pending:
            return
        self.pending = False
        rank_zero_info(f"Handling auto-requeue signal: {self.signal}")
        for logger in trainer.loggers:  # what it logged so far reaches its files
            logger.finalize("finished")
        trainer.save_checkpoint(_next_requeue_checkpoint(Path(trainer.default_root_dir)))
        if trainer.is_global_zero:
            _scontrol_requeue()


def _next_requeue_checkpoint(root: Path) -> Path:
    """``<root>/hpc_ckpt_<n>.ckpt`` with n one more than any there, as Lightning numbers them."""
    numbers = [REQUEUE_CHECKPOINT.fullmatch(path.name) for path in root.glob("hpc_ckpt_*.ckpt")]
    return root / f"hpc_ckpt_{max([int(m[1]) for m in numbers if m] + [0]) + 1}.ckpt"


def _scontrol_requeue() -> None:
    """Requeue this job (an array's task by its own id: a job array's id would requeue them all)."""
    array = os.environ.get("SLURM_ARRAY_JOB_ID")
    job = f"{array}_{os.environ['SLURM_ARRAY_TASK_ID']}" if array else os.environ["SLURM_JOB_ID"]
    try:
        result = subprocess.call(["scontrol", "requeue", job])
    except FileNotFoundError:
        result = "no scontrol on this node"
    if result == 0:
        log.info(f"Requeued SLURM job: {job}")
    else:
        log.warning(f"Requeuing SLURM job {job} failed ({result})")


def requeue_callback(plugins) -> RequeueBetweenBatches | None:
    """The callback for a fit under SLURM, unless the configured environment turns requeues off."""
    if not SLURMEnvironment.detect():
        return None
    plugins = plugins if isinstance(plugins, list) else [plugins]
    configured = next((p for p in plugins if isinstance(p, SLURMEnvironment)), None)
    if configured is None:  # Lightning's default SLURMEnvironment: requeue on SIGUSR1
        return RequeueBetweenBatches()
    if not configured.auto_requeue:
        return None
    return RequeueBetweenBatches(configured.requeue_signal or signal.SIGUSR1)
