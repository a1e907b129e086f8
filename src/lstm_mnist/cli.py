"""``python -m lstm_mnist {fit,validate,test,predict}``: LightningCLI over the model and the data.

Everything a run needs is a typed constructor argument of the model, the data module, the trainer,
the checkpoint callback or the optimizer, so ``--help`` documents it and ``--print_config`` writes
a YAML that reproduces the run.
"""

import importlib
import sys
import warnings
from pathlib import Path

from jsonargparse import auto_cli
from jsonargparse.typing import PositiveInt
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from lstm_mnist.data import MNISTDataModule
from lstm_mnist.errors import LstmMnistError
from lstm_mnist.malloc import keep_freed_memory
from lstm_mnist.model import LSTMClassifier
from lstm_mnist.nvml import skip_nvml_check_without_driver
from lstm_mnist.predict import PredictionWriter
from lstm_mnist.profiler import NoProfiler
from lstm_mnist.report import TestReport

# The model keeps its own configure_optimizers (the seed's RMSprop) so it also trains outside the
# CLI; the CLI replacing it with --optimizer is the design, not something to warn a user about.
warnings.filterwarnings("ignore", message=r".*configure_optimizers` will be overridden by")
# TensorBoard's model graph is traced by Lightning with torch.jit, which torch now calls deprecated.
warnings.filterwarnings("ignore", message=r"`torch\.jit\.trace(_method)?` is deprecated")
# Loading a checkpoint into test/validate/predict runs (a new folder) restores ModelCheckpoint's
# state, and Lightning warns that its old folder differs; nothing is saved in those runs.
warnings.filterwarnings("ignore", message=r"The dirpath has changed from")


class LSTMMnistCLI(LightningCLI):
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # Derived values come from the data module, so a config never states them twice.
        parser.link_arguments("data.input_size", "model.input_size", apply_on="instantiate")
        parser.link_arguments("data.num_classes", "model.num_classes", apply_on="instantiate")
        # Two checkpoints: the best epoch by val/acc, and last.ckpt after every epoch for resuming.
        # (Since Lightning 2.6 `save_last` writes last.ckpt only when a best checkpoint is saved.)
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.add_lightning_class_args(ModelCheckpoint, "last_checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": "val/acc",
                "checkpoint.mode": "max",
                "checkpoint.filename": "epoch{epoch:02d}-val_acc{val/acc:.4f}",
                "checkpoint.auto_insert_metric_name": False,
                "last_checkpoint.filename": "last",
                "last_checkpoint.monitor": None,
            }
        )
        parser.add_lightning_class_args(PredictionWriter, "prediction_writer")
        parser.add_lightning_class_args(TestReport, "test_report")
        parser.add_argument(
            "--test_after_fit",
            type=bool,
            default=False,
            help="After fit, test the best checkpoint (by val/acc) on the test set.",
        )
        parser.add_argument(
            "--progress_refresh_rate",
            type=PositiveInt,
            default=10,
            help="Steps between redraws of the progress bar that Lightning adds when none is "
            "configured. Its own default, 1, redraws at every step: ~6% of a training step on "
            "a 2-core CPU (benchmarks/speed.py --progress-bar).",
        )

    def instantiate_trainer(self, **kwargs) -> Trainer:
        # Lightning appends its own callbacks (progress bar, model summary) to the config's list.
        configured = list(self._run(self.config_init).trainer.get("callbacks") or [])
        trainer = super().instantiate_trainer(**kwargs)
        trainer.callbacks = self._callbacks_of_this_run(trainer.callbacks, configured)
        if type(trainer.profiler) is PassThroughProfiler:  # none configured: see profiler.py
            trainer.profiler = NoProfiler()
        return trainer

    def _callbacks_of_this_run(self, callbacks: list, configured: list) -> list:
        """A Trainer calls every callback's hooks at every step, ~6 times a training step, at
        2-4 us a call alone and several times that in a real epoch (benchmarks/micro.py,
        in_situ.py). So the prediction writer and the test report (class args, so that --help
        and configs show them) join only the subcommands that use them (without a subcommand,
        run=False, a caller mostly fits), and Lightning's own progress bar, which would redraw at
        every step, redraws every --progress_refresh_rate steps."""
        subcommand, run = self.subcommand or "fit", self._run(self.config)
        used_by = {
            PredictionWriter: {"predict"},
            TestReport: {"test", "fit"} if run.test_after_fit else {"test"},
        }
        kept = [cb for cb in callbacks if subcommand in used_by.get(type(cb), {subcommand})]
        for index, callback in enumerate(kept):
            # Only Lightning's default bar: a subclass, or any bar in the config, is the user's.
            if type(callback) is TQDMProgressBar and not any(callback is c for c in configured):
                kept[index] = TQDMProgressBar(run.progress_refresh_rate)
        return kept

    def _run(self, config):
        """This run's part of config (or config_init): the subcommand's, or the whole one when
        built without a subcommand."""
        return config.get(self.subcommand) if self.subcommand else config

    def before_instantiate_classes(self) -> None:
        config = self._run(self.config)
        if self.subcommand == "fit" and config.ckpt_path == "last":
            self._resume_newest_run(config)
        _check_cosine_length(config)

    @staticmethod
    def _resume_newest_run(config) -> None:
        # Lightning looks for --ckpt_path last in this run's own, new version folder, where there
        # is none yet. A user resuming a killed run means the newest run: continue in its folder,
        # so its TensorBoard curves and best checkpoint carry on.
        logger_args = getattr(config.trainer.logger, "init_args", None)  # None: no logger class
        if logger_args is None or logger_args.get("version") is not None:
            return  # no configured logger, or a pinned version: Lightning finds last.ckpt there
        root = Path(logger_args.get("save_dir") or ".", logger_args.get("name") or "")
        runs = root.glob("*/checkpoints/last.ckpt")
        newest = max(runs, key=lambda path: path.stat().st_mtime, default=None)
        if newest is not None:
            logger_args.version = newest.parents[1].name
            config.ckpt_path = str(newest)
            rank_zero_info(f"Resuming from {newest}")

    def after_fit(self) -> None:
        checkpoint = self.trainer.checkpoint_callback
        if checkpoint is None or not checkpoint.best_model_path:
            return
        if self.trainer.is_global_zero:
            score = checkpoint.best_model_score
            print(
                f"Best checkpoint ({checkpoint.monitor}={score:.4f}): {checkpoint.best_model_path}"
            )
        if self.config.fit.test_after_fit:
            self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path="best")

    def after_predict(self) -> None:
        failures = self.datamodule.predict_failures
        for why in failures.values():
            print(f"error: {why}", file=sys.stderr)
        if failures:  # the readable images were predicted; the exit code tells a script
            total = len(failures) + len(self.datamodule.predict_names)
            sys.exit(f"error: {len(failures)} of {total} files could not be read")


def _check_cosine_length(config) -> None:
    """CosineAnnealingLR's T_max (epochs) should equal trainer.max_epochs. jsonargparse cannot
    link into a scheduler chosen by class_path, so the two are written side by side; say so
    when they differ (e.g. --trainer.max_epochs changed alone) rather than train on a cut cosine."""
    scheduler = config.get("lr_scheduler")
    if not scheduler or not str(scheduler.get("class_path", "")).endswith("CosineAnnealingLR"):
        return
    t_max, epochs = scheduler.init_args.get("T_max"), config.trainer.max_epochs
    if t_max != epochs:
        rank_zero_warn(
            f"lr_scheduler.init_args.T_max={t_max} but trainer.max_epochs={epochs}: the cosine "
            f"schedule ends after {t_max} epochs; set --lr_scheduler.T_max {epochs} to match."
        )


# Commands beside LightningCLI's Trainer subcommands; each is a typed function (auto_cli).
TOOLS = {"explain": "lstm_mnist.explain:explain", "export": "lstm_mnist.export:export"}
DESCRIPTION = (
    "Stacked LSTMs that read MNIST as sequences. Besides fit/validate/test/predict: "
    "'explain' (the running guess, row by row, as a PNG) and 'export' (ONNX); "
    "see 'lstm-mnist explain --help'."
)


def cli_main(args: list[str] | None = None) -> LSTMMnistCLI | None:
    """Entry point of ``python -m lstm_mnist`` and the ``lstm-mnist`` script."""
    argv = sys.argv[1:] if args is None else args
    keep_freed_memory()
    skip_nvml_check_without_driver()
    try:
        if argv and argv[0] in TOOLS:
            module, function = TOOLS[argv[0]].split(":")
            auto_cli(getattr(importlib.import_module(module), function), args=argv[1:])
            return None
        return LSTMMnistCLI(
            LSTMClassifier,
            MNISTDataModule,
            # a resumed run writes its config.yaml into the folder it continues
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"description": DESCRIPTION},
            args=args,
        )
    except LstmMnistError as err:  # the message says what to fix; a traceback would bury it
        sys.exit(f"error: {err}")
