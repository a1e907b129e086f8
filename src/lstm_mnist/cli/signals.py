"""Ctrl-C and SLURM's requeue signal, handled where the training loop is between batches.

Python raises KeyboardInterrupt, and Lightning handles SLURM's SIGUSR1 (``--signal=SIGUSR1@90``:
save ``hpc_ckpt_<n>.ckpt``, then ``scontrol requeue``), wherever the main thread happens to be.
When that is inside TensorBoard's writer, which holds its queue's lock while it logs, the next
flush of that writer (the requeue handler's first step; the logger's teardown after a Ctrl-C)
waits for the lock forever, and the process hangs: seen here in one of four runs of
tests/cli/test_slurm.py (py-spy showed the flush waiting), and once after a Ctrl-C in
tests/cli/test_distributed.py ("Detected KeyboardInterrupt, attempting graceful shutdown ..." and no
exit; no stack was taken, so that cause is the likely one, not a proven one). So both signals
only leave a note, and the callbacks act on it at the end of the next batch (training or
validation for Ctrl-C; for the requeue, a training batch that no validation follows, or the
epoch's end).
"""

import signal
import sys
import threading

from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.callbacks import Callback
from typing_extensions import override


class _BetweenBatches(Callback):
    """Act on a signal that came during a batch at the end of the next training batch."""

    @override
    def on_train_batch_end(self, trainer, *args) -> None:
        self._handle(trainer)

    def _handle(self, trainer) -> None:
        raise NotImplementedError


class InterruptBetweenBatches(_BetweenBatches):
    """Raise the KeyboardInterrupt of a Ctrl-C at the end of the next batch.

    Lightning's own handling of it then runs from there (on_exception, teardown, exit 1). A second
    Ctrl-C interrupts at once, as without this callback, for a batch that never ends.
    """

    def __init__(self) -> None:
        """Nothing to set: the signal is SIGINT and what follows is Lightning's."""
        self._pending = False
        self._installed = False

    @override
    def on_fit_start(self, trainer, pl_module) -> None:
        # Only over Python's own handler: a process started with SIGINT ignored (a background
        # job) keeps ignoring it, and a handler someone else installed stays theirs.
        main = threading.current_thread() is threading.main_thread()
        if main and _pythons_own(signal.getsignal(signal.SIGINT)):
            signal.signal(signal.SIGINT, self._remember)
            self._installed = True

    def _remember(self, signum, frame) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C: at once
        if not self._installed:  # left behind after its fit (see _pythons_own): Python's way
            raise KeyboardInterrupt
        self._pending = True

    @override
    def on_validation_batch_end(self, trainer, *args) -> None:
        self._handle(trainer)  # a stop need not wait for the validation pass to end

    def _handle(self, trainer) -> None:
        if self._pending:
            self._pending = False
            raise KeyboardInterrupt

    @override
    def on_train_end(self, trainer, pl_module) -> None:
        self._handle(trainer)  # a Ctrl-C after the last batch still stops the command

    @override
    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._restore()

    @override
    def teardown(self, trainer, pl_module, stage: str) -> None:
        self._restore()

    def _restore(self) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self._installed = False


def _pythons_own(handler) -> bool:
    """Python's SIGINT handler, or one this class left behind, which then acts as Python's.

    Lightning notes the handlers it finds after on_fit_start and puts them back last when a fit
    fails, after our on_exception: a fit that raised leaves our handler installed.
    """
    owner = getattr(handler, "__self__", None)
    left = isinstance(owner, InterruptBetweenBatches) and not owner._installed
    return handler is signal.default_int_handler or left


class RequeueBetweenBatches(_BetweenBatches):
    """Handle SLURM's requeue signal at the end of a training batch that no validation follows.

    It takes the signal first (Lightning then installs no handler of its own) and runs Lightning's
    handling of it between training batches, or at the end of the epoch once its validation and
    checkpoints are done. Never during validation, nor just before it: Lightning resumes a
    checkpoint saved there without that validation (one saved after an epoch's last batch starts
    the next epoch), so the epoch's val/acc and its best checkpoint would be lost (both seen in
    tests/cli/test_slurm.py, 2026-12-04 and 2026-12-05). The wait is one validation pass, within the
    90 s that --signal=SIGUSR1@90 gives.
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
        # asked only with a signal pending: this runs after every training step
        if self._pending is not None and not _validation_follows(trainer):
            self._handle(trainer)

    @override
    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._handle(trainer)  # after the epoch's validation and its checkpoints

    def _handle(self, trainer) -> None:
        if self._pending is not None:
            signum, frame = self._pending
            self._pending = None
            trainer._signal_connector._slurm_sigusr_handler_fn(signum, frame)


def _validation_follows(trainer) -> bool:
    """Whether Lightning validates right after this training batch: the question it asks next."""
    loop = trainer.fit_loop
    return loop.epoch_loop._should_check_val_fx(loop._data_fetcher)
