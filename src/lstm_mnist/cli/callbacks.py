"""Which callbacks each command gets: a Trainer calls every callback at every step.

The callbacks that are settings (``--checkpoint.monitor``, ``--test_report.misclassified``, ...) are
class arguments of the CLI, so ``--help`` and configs show them; each joins only the commands that
use it. The two checkpoints join every command: a checkpoint read back restores their state.
"""

from lightning.pytorch.callbacks import LearningRateMonitor, ModelSummary, WeightAveraging
from lightning.pytorch.callbacks.progress.progress_bar import ProgressBar

from lstm_mnist.cli.output import Summary, progress_bar
from lstm_mnist.cli.requeue import requeue_callback
from lstm_mnist.cli.signals import InterruptBetweenBatches
from lstm_mnist.runs.checkpoint import RunCheckpoint
from lstm_mnist.runs.run import LeaveNothingUnstarted, Run
from lstm_mnist.tools.predict import PredictionWriter
from lstm_mnist.tools.report import TestReport

SETTINGS = {
    "checkpoint": RunCheckpoint,  # the best epoch by val/acc
    "last_checkpoint": RunCheckpoint,  # last.ckpt after every epoch, for resuming
    "lr_monitor": LearningRateMonitor,
    "prediction_writer": PredictionWriter,
    "test_report": TestReport,
}
DEFAULTS = {
    "checkpoint.monitor": "val/acc",
    "checkpoint.mode": "max",
    "checkpoint.filename": "epoch{epoch:02d}-val_acc{val/acc:.4f}",
    "checkpoint.auto_insert_metric_name": False,
    # (Since Lightning 2.6 `save_last` writes last.ckpt only when a best checkpoint is saved.)
    "last_checkpoint.filename": "last",
    "last_checkpoint.monitor": None,
    "lr_monitor.logging_interval": "epoch",
}


def command_callbacks(subcommand: str, config, run: Run | None, new_run: bool) -> list:
    """The callbacks of a command: the configured ones, and each of the project's it uses.

    Args:
        subcommand: ``fit``, ``validate``, ``test`` or ``predict``.
        config: The command's instantiated config (LightningCLI's ``config_init`` part).
        run: The existing run the command writes into, if any.
        new_run: Whether it writes a new run (see ``LeaveNothingUnstarted``).
    """
    trainer = config.trainer
    callbacks = list(trainer.get("callbacks") or [])
    if subcommand != "fit":  # it averages training steps; elsewhere it could only warn
        callbacks = [c for c in callbacks if not isinstance(c, WeightAveraging)]
    joins = {
        "lr_monitor": {"fit"} if trainer.logger is not False else set(),  # it needs a logger
        "prediction_writer": {"predict"},
        "test_report": {"test", "fit"} if config.get("test_after_fit") else {"test"},
    }
    if trainer.get("enable_checkpointing") is False:  # Lightning refuses them then
        joins["checkpoint"] = joins["last_checkpoint"] = set()
    callbacks += [config[key] for key in SETTINGS if subcommand in joins.get(key, {subcommand})]
    if subcommand == "fit":  # signals handled between batches: see signals.py, requeue.py
        callbacks += [InterruptBetweenBatches(), requeue_callback(trainer.get("plugins") or [])]
    if trainer.get("enable_progress_bar") is not False and not _has(callbacks, ProgressBar):
        callbacks.append(progress_bar(config.get("progress_refresh_rate", 10)))
    if trainer.get("enable_model_summary") is not False and not _has(callbacks, ModelSummary):
        callbacks.append(Summary())
    callbacks.append(LeaveNothingUnstarted(run, new_run))
    return [callback for callback in callbacks if callback is not None]


def _has(callbacks: list, kind: type) -> bool:
    return any(isinstance(callback, kind) for callback in callbacks)
