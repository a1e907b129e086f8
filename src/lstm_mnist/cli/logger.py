"""Where a run records itself: its TensorBoard logger and its config.yaml.

The charts a learner opens are the ones that teach something; config.yaml repeats the run.
"""

from pathlib import Path

from jsonargparse import Namespace
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.loggers import TensorBoardLogger
from typing_extensions import override

from lstm_mnist.runs.run import LOGS, Run, check_folder

LEARNING_RATE = "train/lr"


class RunLogger(TensorBoardLogger):
    """TensorBoardLogger with one learning-rate chart and no ``epoch`` chart.

    LearningRateMonitor names its metric after the optimizer (``lr-Adam``, ``lr-RMSprop``), so
    runs with different optimizers never share a chart; here it is ``train/lr`` for all.
    Lightning adds the epoch number to every logged step, a chart of a staircase that pushes the
    train/val/test charts down the page; the step axis already tells where a run is.
    """

    @override
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        renamed = {
            LEARNING_RATE if name.startswith("lr-") else name: value
            for name, value in metrics.items()
            if name != "epoch"
        }
        super().log_metrics(renamed, step)


class RunConfig(SaveConfigCallback):
    """Writes the run's config.yaml when training starts: ``fit --config`` on it repeats the run.

    Not before: a fit stopped by a check leaves config.yaml as it was. Without the checkpoint a
    resumed fit started from (``--ckpt_path last`` says to continue), and with ``logger: true``
    where the project chose the logger, so that a repeat is a new run in its own command's folder.
    """

    def __init__(self, parser, config, *args, project_logger: bool = False, **kwargs) -> None:
        """SaveConfigCallback's arguments, and whether the CLI chose the logger."""
        config = config.clone()
        if config.get("ckpt_path") is not None:  # a subcommand's (a CLI without one has none)
            config.ckpt_path = None
        if project_logger:
            config.trainer.logger = True
        super().__init__(parser, config, *args, **kwargs)

    @override
    def setup(self, trainer, pl_module, stage: str) -> None:
        """Not yet: see the class."""

    @override
    def on_train_start(self, trainer, pl_module) -> None:
        super().setup(trainer, pl_module, "fit")


RUN_LOGGER = f"{RunLogger.__module__}.{RunLogger.__name__}"
# where config.yaml files of runs made before 2026-12-07 name it (lstm_mnist/logger.py keeps it)
RUN_LOGGERS = (RUN_LOGGER, "lstm_mnist.logger.RunLogger")


def our_logger(config) -> bool:
    """True if the user left the logger to the project.

    None configured or ``true`` (what a run's config.yaml records when the project chose it): that
    config fed back (``fit --config <run>/config.yaml``) starts a new run, or continues its run with
    ``--ckpt_path last``, in this command's folder.
    """
    logger = config.trainer.logger
    if logger in (None, True):
        return True
    # config.yaml files written before RunConfig recorded `logger: true`: a new run's RunLogger
    # (version null; the experiments command named its runs' versions)
    if not isinstance(logger, Namespace) or logger.get("class_path") not in RUN_LOGGERS:
        return False
    return logger.get("init_args.version") is None


def run_logger(root: Path, run: Run | None, subcommand: str, purge_step: int | None) -> Namespace:
    """The project's logger of a fit or a test, as a config's ``trainer.logger``.

    A fit writes a new ``<root>/lightning_logs/version_N`` (or continues the run it resumes, its
    curves from ``purge_step`` on hidden in TensorBoard); a test writes its report into the
    checkpoint's run.
    """
    if run is not None:
        save_dir, name, version = run.folder.parent, "", run.folder.name
    else:
        save_dir, name, version = check_folder(root, "trainer.default_root_dir"), LOGS, None
    init = {"save_dir": str(save_dir), "name": name, "version": version}
    # the report writes the hparams tab: no hp_metric chart of one dot
    init.update(default_hp_metric=False, log_graph=subcommand == "fit", purge_step=purge_step)
    return Namespace(class_path=RUN_LOGGER, init_args=Namespace(**init))
