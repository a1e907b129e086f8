"""SLURM's requeue signal, handled where the training loop is between batches.

Lightning handles SIGUSR1 under SLURM (``--signal=SIGUSR1@90``: save ``hpc_ckpt_<n>.ckpt``, then
``scontrol requeue``) inside the signal handler, wherever the main thread happens to be. When it
is inside TensorBoard's writer, which holds its queue's lock while it logs, the handler's first
step (flushing that writer) waits for the lock forever, and the job hangs until its time limit:
seen here in one of four runs of tests/test_slurm.py, which logs a scalar at every step.
"""

import signal
import sys

from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.callbacks import Callback
from typing_extensions import override


class RequeueBetweenBatches(Callback):
    """Handle SLURM's requeue signal at the end of the next batch.

    It takes the signal first (Lightning then installs no handler of its own) and runs Lightning's
    handling of it at the end of the next training or validation batch.
    """

    def __init__(self) -> None:
        """Nothing to set: the signal and what to do with it are Lightning's."""
        self._pending: tuple | None = None

    @override
    def on_fit_start(self, trainer, pl_module) -> None:
        environment = trainer._accelerator_connector.cluster_environment
        auto_requeue = isinstance(environment, SLURMEnvironment) and environment.auto_requeue
        if auto_requeue and sys.platform != "win32":
            signal.signal(environment.requeue_signal, self._remember)

    def _remember(self, signum, frame) -> None:
        self._pending = (signum, frame)

    @override
    def on_train_batch_end(self, trainer, *args) -> None:
        self._handle(trainer)

    @override
    def on_validation_batch_end(self, trainer, *args) -> None:
        self._handle(trainer)

    def _handle(self, trainer) -> None:
        if self._pending is not None:
            signum, frame = self._pending
            self._pending = None
            trainer._signal_connector._slurm_sigusr_handler_fn(signum, frame)
