"""Ctrl-C, handled where the training loop is between batches.

Python raises KeyboardInterrupt wherever the main thread happens to be. When that is inside
TensorBoard's writer, which holds its queue's lock while it logs, the logger's flush at teardown
waits for the lock forever and the process hangs: seen once after a Ctrl-C in
tests/cli/test_distributed.py ("Detected KeyboardInterrupt, attempting graceful shutdown ..." and no
exit; no stack was taken, so that cause is the likely one, not a proven one; the same lock hung
SLURM's requeue, see requeue.py). So a Ctrl-C only leaves a note, and the callback raises it at the
end of the next training or validation batch.
"""

import signal
import threading

from lightning.pytorch.callbacks import Callback
from typing_extensions import override


class InterruptBetweenBatches(Callback):
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
    def on_train_batch_end(self, trainer, *args) -> None:
        self._handle(trainer)

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
