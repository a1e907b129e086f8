"""``python -m lstm_mnist {fit,validate,test,predict}``: LightningCLI over the model and the data.

Everything a run needs is a typed constructor argument of the model, the data module, the trainer,
the checkpoint callback or the optimizer, so ``--help`` documents it and ``--print_config`` writes
a YAML that reproduces the run.
"""

import importlib
import json
import shutil
import sys
import warnings
from argparse import ArgumentError
from pathlib import Path

import yaml
from jsonargparse import Namespace, auto_cli
from jsonargparse.typing import PositiveInt
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch import Trainer, seed_everything
from lightning.pytorch.callbacks import (
    LearningRateMonitor,
    ModelCheckpoint,
    RichProgressBar,
    TQDMProgressBar,
    WeightAveraging,
)
from lightning.pytorch.cli import (
    LightningArgumentParser,
    LightningCLI,
    SaveConfigCallback,
)
from lightning.pytorch.profilers import PassThroughProfiler
from lightning.pytorch.utilities import rank_zero_info
from torch.optim.lr_scheduler import OneCycleLR
from typing_extensions import override

from lstm_mnist.cli.checks import (
    check_checkpointing,
    check_config_files,
    check_cosine_length,
    check_cpu_bf16,
    check_one_cycle_length,
    check_optimization,
    one_line,
    where_set,
)
from lstm_mnist.cli.logger import RunLogger
from lstm_mnist.cli.signals import InterruptBetweenBatches, RequeueBetweenBatches
from lstm_mnist.cli.tuning import NoProfiler, tune_process
from lstm_mnist.core.data import EVALUATIONS, MNISTDataModule
from lstm_mnist.core.errors import LstmMnistError, OptionError
from lstm_mnist.core.model import LSTMClassifier
from lstm_mnist.runs.checkpoint import (
    CheckpointError,
    RunCheckpoint,
    newest_last_checkpoint,
    read_checkpoint,
    run_folder,
    trained_settings,
)
from lstm_mnist.runs.folders import (
    LOGS,
    check_folder,
    has_run_config,
    run_differences,
    run_seed,
    run_to_resume,
)
from lstm_mnist.tools.predict import PredictionWriter
from lstm_mnist.tools.report import TestReport

# Raised when parse_arguments drops --print_config from sys.argv (see there).
warnings.filterwarnings("ignore", message=r"LightningCLI's args parameter is intended")
# The model keeps its own configure_optimizers (the seed's RMSprop) so it also trains outside the
# CLI; the CLI replacing it with --optimizer is the design, not something to warn a user about.
warnings.filterwarnings("ignore", message=r".*configure_optimizers` will be overridden by")
# TensorBoard's model graph is traced by Lightning with torch.jit, which torch now calls deprecated.
warnings.filterwarnings("ignore", message=r"`torch\.jit\.trace(_method)?` is deprecated")
# Loading a checkpoint into test/validate/predict runs (a new folder) restores ModelCheckpoint's
# state, and Lightning warns that its old folder differs; nothing is saved in those runs.
warnings.filterwarnings("ignore", message=r"The dirpath has changed from")
# A resumed fit writes into its own run's checkpoint folder, which is not empty by design.
warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")
# Lightning 2.6 calls a torch.utils._pytree API that torch 2.14 deprecates; nothing to act on.
warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
# Only a resumed fit restores the training callbacks' states (an EMA's average); a checkpoint is
# evaluated without them, and Lightning's advice to add them there would only mislead.
CALLBACKS_FOR_RESUMING = r"Be aware that when using `ckpt_path`, callbacks used to create"


class RunConfig(SaveConfigCallback):
    """Writes the run's config.yaml: its settings, so that ``fit --config`` on it repeats the run.

    Without the checkpoint a resumed fit started from (fed back, that config would resume the run
    again instead of repeating it; ``--ckpt_path last`` says to continue), and with ``logger: true``
    where the project chose the logger: its save_dir and version name this run's folder, and a
    repeat is a new run, in the folder of the command that repeats it.
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
        """Not yet: a fit stopped by a check before training leaves config.yaml as it was."""

    @override
    def on_train_start(self, trainer, pl_module) -> None:
        super().setup(trainer, pl_module, "fit")


class LSTMMnistCLI(LightningCLI):
    """LightningCLI with the project's links, callbacks, logger and checks before a run."""

    def __init__(self, *args, save_config_callback=RunConfig, **kwargs) -> None:
        """LightningCLI's arguments; a run's config.yaml is written by RunConfig by default."""
        super().__init__(*args, save_config_callback=save_config_callback, **kwargs)

    @override
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        # Derived values come from the data module, so a config never states them twice.
        parser.link_arguments("data.input_size", "model.input_size", apply_on="instantiate")
        parser.link_arguments("data.num_classes", "model.num_classes", apply_on="instantiate")
        parser.link_arguments("data.seq_len", "model.seq_len", apply_on="instantiate")
        # Two checkpoints: the best epoch by val/acc, and last.ckpt after every epoch for resuming.
        # (Since Lightning 2.6 `save_last` writes last.ckpt only when a best checkpoint is saved.)
        # RunCheckpoint: Lightning's, which also keeps its record of a moved or copied run.
        parser.add_lightning_class_args(RunCheckpoint, "checkpoint")
        parser.add_lightning_class_args(RunCheckpoint, "last_checkpoint")
        parser.add_lightning_class_args(LearningRateMonitor, "lr_monitor")
        parser.set_defaults(
            {
                "checkpoint.monitor": "val/acc",
                "checkpoint.mode": "max",
                "checkpoint.filename": "epoch{epoch:02d}-val_acc{val/acc:.4f}",
                "checkpoint.auto_insert_metric_name": False,
                "last_checkpoint.filename": "last",
                "last_checkpoint.monitor": None,
                "lr_monitor.logging_interval": "epoch",
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
            "configured (its own default, 1, redraws at every step, a cost on a small CPU).",
        )

    @staticmethod
    @override
    def configure_optimizers(lightning_module, optimizer, lr_scheduler=None):
        # OneCycleLR counts its schedule in batches (total_steps), so it must step after each
        # one; Lightning steps a scheduler after each epoch unless told otherwise.
        if not isinstance(lr_scheduler, OneCycleLR):
            return LightningCLI.configure_optimizers(lightning_module, optimizer, lr_scheduler)
        trainer = lightning_module.trainer
        # the fit's step count is known only now, with the data set up
        check_one_cycle_length(lr_scheduler, trainer.estimated_stepping_batches, trainer.ckpt_path)
        stepped = {"scheduler": lr_scheduler, "interval": "step"}
        return {"optimizer": optimizer, "lr_scheduler": stepped}

    @override
    def parse_arguments(self, parser: LightningArgumentParser, args) -> None:
        self._argv = list(sys.argv[1:] if args is None else args)  # to tell options from configs
        # test/validate/predict print their config once the checkpoint's settings are in it (in
        # _parse_ckpt_path); jsonargparse would print it before, with the defaults in their place.
        self._print_config = None
        if self._argv and self._argv[0] in EVALUATIONS:
            printing = [arg for arg in self._argv if arg.partition("=")[0] == "--print_config"]
            if printing:
                self._print_config = printing[-1].partition("=")[2]
                args = [arg for arg in self._argv if arg not in printing]
        super().parse_arguments(parser, args)

    def _parse_ckpt_path(self) -> None:
        """Check the command before anything is built or written (replaces Lightning's hook).

        Lightning's adopts the model's settings only and prints a traceback for a file that is not a
        checkpoint. This is the first hook after parsing, so every check runs here: --ckpt_path
        resolved and read, the optimizer's values, the log folder.
        """
        self._run_dir = None  # the existing run folder this command writes into, if any
        self._purge_step = None  # a resumed fit's first step
        subcommand = self.config.get("subcommand")
        if subcommand == "fit":
            self._resume(self.config.fit)
        elif subcommand is not None and (
            self.config[subcommand].ckpt_path or self._print_config is None
        ):
            self._evaluate_checkpoint(subcommand, self.config[subcommand])
        run = self._run_dir
        self._files_before = set(run.iterdir()) if run is not None and run.is_dir() else set()
        # its config.yaml and hparams.yaml, as they were: a fit that fails at its first step has
        # rewritten them already
        self._yaml_before = {
            path: path.read_bytes() for path in self._files_before if path.suffix == ".yaml"
        }
        config = self.config[subcommand] if subcommand else self.config
        if self._print_config is not None:  # test/validate/predict's, with a checkpoint's settings
            flags = self._print_config.split(",")
            dump = self._parser(subcommand).dump
            print(
                dump(config, skip_none="skip_null" in flags, skip_default="skip_default" in flags)
            )
            sys.exit(0)
        check_optimization(config)
        check_checkpointing(config)
        self._choose_logger(config, subcommand or "fit")

    def _set_seed(self) -> None:
        # Quietly: a run's config.yaml records the seed, and an error right after it should be
        # the only line a user sees.
        seed = self._get(self.config, "seed_everything")
        if seed is not False:
            seed = seed_everything(None if seed is True else seed, workers=True, verbose=False)
            if self.subcommand:
                self.config[self.subcommand]["seed_everything"] = seed

    def _resume(self, config) -> None:
        if not config.ckpt_path:
            return
        unlogged = config.trainer.logger is False
        if config.ckpt_path == "last" and (_our_logger(config) or unlogged):
            current = yaml.safe_load(self._parser("fit").dump(config, skip_none=False))
            config.ckpt_path = str(run_to_resume(_root(config), current, logged=not unlogged))
            rank_zero_info(f"Resuming from {config.ckpt_path}")
        if config.ckpt_path in ("last", "hpc"):  # the user's own logger: Lightning finds it
            return
        checkpoint = read_checkpoint(config.ckpt_path)
        conflicts = [
            f"{section}.{key}={value!r} (this fit: {config[section][key]!r})"
            for section, values in trained_settings(checkpoint).items()
            for key, value in values.items()
            if config[section][key] != value
        ]
        if conflicts:
            raise CheckpointError(
                f"checkpoint {config.ckpt_path} was trained with {'; '.join(conflicts)}: resume "
                "it with its run's config.yaml (--config), or start anew without --ckpt_path"
            )
        self._run_dir = run_folder(config.ckpt_path)  # continue its curves in its folder
        self._check_same_run(config)
        seed = run_seed(self._run_dir)
        if config.seed_everything is True and seed is not None:  # "any seed": the run's own
            config.seed_everything = seed
        # TensorBoard hides what the stopped run logged from this checkpoint's step on (the
        # steps it will train again), so no step is drawn twice.
        self._purge_step = checkpoint.get("global_step", 0)

    def _check_same_run(self, config) -> None:
        """A checkpoint's run continues only with its settings, as its config.yaml records them.

        The optimizer, scheduler and seed too: the checkpoint holds only the model's and data's.
        """
        if self._run_dir is None:
            return
        current = yaml.safe_load(self._parser("fit").dump(config, skip_none=False))
        found = run_differences(self._run_dir, current)
        if found:
            raise CheckpointError(
                f"checkpoint {config.ckpt_path} belongs to {self._run_dir}, trained with "
                f"{'; '.join(found[:3])}: resume it with --config "
                f"{self._run_dir / 'config.yaml'}, or start anew without --ckpt_path"
            )

    def _evaluate_checkpoint(self, subcommand: str, config) -> None:
        """Require the checkpoint of test/validate/predict and take its settings.

        They score a trained model, so the model and data settings it was trained with come from its
        checkpoint.
        """
        if not config.ckpt_path:
            raise CheckpointError(
                f"{subcommand} needs a trained model: pass --ckpt_path with the checkpoint "
                "path a fit printed, or --ckpt_path last for the newest run's last.ckpt"
            )
        if config.ckpt_path == "last":
            config.ckpt_path = str(newest_last_checkpoint(_root(config)))
        checkpoint = read_checkpoint(config.ckpt_path)
        explicit = _explicit_options(self._argv)
        saved = checkpoint.get("datamodule_hyper_parameters", {})
        # Unless told otherwise: where the fit found the files, and how its run is tested (told
        # by the command line, or by a config that turns the shifts on).
        saved_dir = saved.get("data_dir")
        if "data.data_dir" not in explicit and saved_dir and Path(saved_dir).is_dir():
            config.data.data_dir = saved_dir
        told = "data.test_time_shifts" in explicit or config.data.test_time_shifts
        if not told and "test_time_shifts" in saved:
            config.data.test_time_shifts = saved["test_time_shifts"]
        conflicts = []
        for section, values in trained_settings(checkpoint).items():
            for key, value in values.items():
                if f"{section}.{key}" in explicit and config[section][key] != value:
                    conflicts.append(f"--{section}.{key} {config[section][key]}")
                config[section][key] = value
        if conflicts:
            raise CheckpointError(
                f"checkpoint {config.ckpt_path} was trained with other settings than "
                f"{', '.join(conflicts)}: drop {'them' if len(conflicts) > 1 else 'it'}; "
                f"{subcommand} takes the model's settings from its checkpoint"
            )
        if subcommand == "test":  # the report goes beside the run's own curves
            self._run_dir = run_folder(config.ckpt_path)

    @override
    def before_instantiate_classes(self) -> None:
        check_cosine_length(self._run(self.config))

    def _choose_logger(self, config, subcommand: str) -> None:
        """TensorBoard in the run folder, unless the user configured a logger (or none).

        A fit writes a new ``<default_root_dir>/lightning_logs/version_N`` (or continues the run
        it resumes); a test writes its report into the checkpoint's run; validate and predict
        write nothing.
        """
        if not _our_logger(config):
            if subcommand == "fit" and config.trainer.logger is False:
                _refuse_a_second_unlogged_fit(_root(config), self._run_dir)
            return
        if subcommand in ("validate", "predict"):
            config.trainer.logger = False
            return
        if self.save_config_callback and issubclass(self.save_config_callback, RunConfig):
            self.save_config_kwargs["project_logger"] = True  # config.yaml records `logger: true`
        if self._run_dir is not None:
            save_dir, name, version = self._run_dir.parent, "", self._run_dir.name
        else:
            option = "trainer.default_root_dir"
            save_dir, name, version = check_folder(_root(config), option), LOGS, None
        config.trainer.logger = Namespace(
            class_path=RUN_LOGGER,
            init_args=Namespace(
                save_dir=str(save_dir),
                name=name,
                version=version,
                # the report writes the hparams tab; no hp_metric chart of one dot
                default_hp_metric=False,
                log_graph=subcommand == "fit",
                purge_step=self._purge_step,  # set by a resumed fit only
            ),
        )

    @override
    def instantiate_trainer(self, **kwargs) -> Trainer:
        # Lightning appends its own callbacks (progress bar, model summary) to the config's list.
        configured = list(self._run(self.config_init).trainer.get("callbacks") or [])
        trainer = super().instantiate_trainer(**kwargs)
        check_cpu_bf16(trainer)
        trainer.callbacks = self._callbacks_of_this_run(trainer, configured)
        if type(trainer.profiler) is PassThroughProfiler:  # none configured: see tuning.py
            trainer.profiler = NoProfiler()
        return trainer

    @override
    def _instantiate_trainer(self, config: dict, callbacks: list) -> Trainer:
        # The two checkpoint callbacks are class args, always built; with checkpointing off they
        # stay out (Lightning refuses a ModelCheckpoint beside enable_checkpointing=False).
        if config.get("enable_checkpointing") is False:
            callbacks = [c for c in callbacks if not isinstance(c, ModelCheckpoint)]
        return super()._instantiate_trainer(config, callbacks)

    def _callbacks_of_this_run(self, trainer: Trainer, configured: list) -> list:
        """The Trainer's callbacks, each only in the subcommands that use it.

        A Trainer calls every callback's hooks at every step, so the callbacks that are class args
        (so that --help and configs show them) join only the subcommands that use them (without a
        subcommand, run=False, a caller mostly fits). Lightning's own progress bar, which would
        redraw at every step, redraws every --progress_refresh_rate steps.
        """
        subcommand, run = self.subcommand or "fit", self._run(self.config)
        logged = bool(trainer.loggers)
        used_by = {
            PredictionWriter: {"predict"},
            TestReport: {"test", "fit"} if run.test_after_fit else {"test"},
            LearningRateMonitor: {"fit"} if logged else set(),  # it needs a logger
            SaveConfigCallback: {"fit"},  # a run's config.yaml is the fit's
            # It averages training steps; outside a fit it could only warn that it has nothing.
            WeightAveraging: {"fit"},
        }

        def wanted(callback) -> bool:
            users = [s for kind, s in used_by.items() if isinstance(callback, kind)]
            return subcommand in (users[0] if users else {subcommand})

        kept = [callback for callback in trainer.callbacks if wanted(callback)]
        if subcommand == "fit":  # signals handled between batches: see signals.py
            kept.append(InterruptBetweenBatches())
            if SLURMEnvironment.detect():
                kept.append(RequeueBetweenBatches())
        for index, callback in enumerate(kept):
            # Only Lightning's default bar: a subclass, or any bar in the config, is the user's.
            # (Lightning's default is Rich's bar where `rich` is installed, e.g. with Gradio.)
            default = type(callback) in (TQDMProgressBar, RichProgressBar)
            if default and not any(callback is c for c in configured):
                kept[index] = type(callback)(refresh_rate=run.progress_refresh_rate)
        return kept

    def _run(self, config):
        """This run's part of config (or config_init).

        The subcommand's, or the whole one when built without a subcommand.
        """
        return config.get(self.subcommand) if self.subcommand else config

    def _run_subcommand(self, subcommand: str) -> None:
        try:
            with warnings.catch_warnings():
                if subcommand != "fit":
                    warnings.filterwarnings("ignore", message=CALLBACKS_FOR_RESUMING)
                super()._run_subcommand(subcommand)
        except BaseException as err:
            self._undo_unstarted(subcommand)
            self._plain_state_dict_error(err)
            raise

    def _undo_unstarted(self, subcommand: str) -> None:
        """A command that failed before its first training step leaves the folders as they were.

        A new run's folder goes (it would stand in lightning_logs/ beside real runs); in a run it
        continues or tests, the files it added (an empty events file) go.
        """
        trainer = self.trainer
        if not trainer.is_global_zero:
            return
        if subcommand == "fit" and trainer.global_step > (self._purge_step or 0):
            return  # it trained: what it wrote is the run's
        if subcommand == "fit" and self._run_dir is None:
            _discard_unstarted_run(trainer)
        elif self._run_dir is not None and self._run_dir.is_dir():
            for path in set(self._run_dir.iterdir()) - self._files_before:
                if path.is_file():
                    path.unlink()
            for path, content in self._yaml_before.items():
                if path.read_bytes() != content:
                    path.write_bytes(content)

    def _plain_state_dict_error(self, err: BaseException) -> None:
        """Settings were taken from the checkpoint's file: if its weights misfit, it is not ours."""
        if isinstance(err, RuntimeError) and "Error(s) in loading state_dict" in str(err):
            path = self._run(self.config).ckpt_path
            raise CheckpointError(
                f"checkpoint {path} does not fit this model "
                f"({str(err).splitlines()[1].strip()[:160]}): pass one that lstm-mnist fit wrote"
            ) from None

    def after_fit(self) -> None:
        """Print the best checkpoint's path (what to pass to test), then test it if asked."""
        checkpoint = self.trainer.checkpoint_callback
        if checkpoint is None or not checkpoint.best_model_path:
            return
        if self.trainer.is_global_zero:
            score = checkpoint.best_model_score
            value = f"={score:.4f}" if score is not None else ""
            print(f"Best checkpoint ({checkpoint.monitor}{value}): {checkpoint.best_model_path}")
        if self.config.fit.test_after_fit:
            # Under weight averaging a checkpoint holds the averaged weights, those its val/acc
            # scored and that `test --ckpt_path` reads; while the fit's average lives, Lightning's
            # callback would load the training weights beside them for this test instead.
            callbacks = self.trainer.callbacks
            self.trainer.callbacks = [c for c in callbacks if not isinstance(c, WeightAveraging)]
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=CALLBACKS_FOR_RESUMING)
                # the path, not "best", which Lightning takes from its first checkpoint callback
                # with a warning that there are two (the last.ckpt one never holds the best)
                best = checkpoint.best_model_path
                self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best)

    def after_predict(self) -> None:
        """Name every file that could not be read; exit 1 if there was one."""
        predicted = self.trainer.predict_dataloaders.dataset  # a NamedBatches
        for why in predicted.failures.values():
            print(f"error: {why}", file=sys.stderr)
        if predicted.failures:  # the readable images were predicted; the exit code tells a script
            total = len(predicted.failures) + len(predicted.names)
            raise LstmMnistError(f"{len(predicted.failures)} of {total} files could not be read")


RUN_LOGGER = f"{RunLogger.__module__}.{RunLogger.__name__}"
# where config.yaml files of runs made before 2026-12-07 name it (lstm_mnist/logger.py keeps it)
RUN_LOGGERS = (RUN_LOGGER, "lstm_mnist.logger.RunLogger")


def _root(config) -> Path:
    """Where runs are written: --trainer.default_root_dir, else the current folder.

    Absolute: ModelCheckpoint restores its record of the best and last files on resume only when its
    folder is spelled the same (otherwise it writes last-v1.ckpt beside last.ckpt).
    """
    return Path(config.trainer.default_root_dir or ".").absolute()


def _refuse_a_second_unlogged_fit(root: Path, resumed: Path | None) -> None:
    """Without a logger a fit writes config.yaml and checkpoints/ into the root folder itself.

    So that folder holds one fit: another new one there would overwrite the first one's
    config.yaml (or the user's own) and mix its checkpoints with the first one's. Lightning's own
    SaveConfigCallback refuses for the same reason.
    """
    config = root / "config.yaml"
    if not config.exists():
        return
    ours = has_run_config(root)  # written by a fit, not the user's own file of that name
    # resumed; or a fit stopped before its first checkpoint, with nothing of it to keep
    if ours and (resumed == root or not (root / "checkpoints").exists()):
        return
    if ours and (root / "checkpoints" / "last.ckpt").is_file():
        raise OptionError(
            f"{root} already holds a fit made with --trainer.logger false ({config}, "
            "checkpoints/): continue it with --ckpt_path last, or give this fit its own "
            "--trainer.default_root_dir"
        )
    raise OptionError(
        f"{config} exists, and a fit with --trainer.logger false writes its own config.yaml "
        "there: give this fit another --trainer.default_root_dir, or move that file"
    )


def _our_logger(config) -> bool:
    """True if the user left the logger to the project.

    None configured or ``true`` (what a run's config.yaml records when the project chose it): that
    config fed back (``fit --config <run>/config.yaml``) starts a new run, or continues its run with
    ``--ckpt_path last``, in this command's folder.
    """
    logger = config.trainer.logger
    if logger in (None, True):
        return True
    # config.yaml files written before RunConfig recorded `logger: true`: a new run's RunLogger
    # (version null; the experiments command names its runs' versions)
    if not isinstance(logger, Namespace) or logger.get("class_path") not in RUN_LOGGERS:
        return False
    return logger.get("init_args.version") is None


def _explicit_options(argv: list[str]) -> set[str]:
    """The dotted keys given as options on the command line (not in a config file)."""
    return {arg[2:].split("=", 1)[0] for arg in argv if arg.startswith("--")}


# Commands beside LightningCLI's Trainer subcommands; each is a typed function (auto_cli).
TOOLS = {
    "explain": "lstm_mnist.tools.explain:explain",
    "export": "lstm_mnist.tools.export:export",
    "download": "lstm_mnist.cli.download:download",
    "experiments": "lstm_mnist.experiments.runner:run_grid",
    "demo": "lstm_mnist.tools.demo:demo",
}
# A tool's list options that a user may repeat (--ckpt_path A --ckpt_path B): gathered into one
# list, since jsonargparse would keep the last one only.
REPEATABLE = ("--ckpt_path", "--name")
PROG = "lstm-mnist"
DESCRIPTION = (
    "Stacked LSTMs that read MNIST as sequences. Commands: fit, validate, test, predict "
    "(Lightning's, driven by YAML configs), and 'download' (the dataset, e.g. on a login node), "
    "'explain' (the running guess, row by row, as a PNG), 'demo' (a page to draw a digit and "
    "watch it read), 'export' (ONNX), 'experiments' "
    "(config x seed grids -> results/). "
    "Each has --help, e.g. 'lstm-mnist fit --help'."
)


def run_cli(args: list[str] | None = None) -> LSTMMnistCLI | None:
    """Run one command and return its CLI (None for the tools); errors are raised, not printed."""
    argv = sys.argv[1:] if args is None else args
    tune_process()
    check_config_files(argv)
    parser_kwargs = {"prog": PROG, "exit_on_error": False}
    if argv and argv[0] in TOOLS:
        module, function = TOOLS[argv[0]].split(":")
        command = getattr(importlib.import_module(module), function)
        args = gathered(argv[1:]) if argv[0] == "demo" else argv[1:]
        auto_cli(command, args=args, **{**parser_kwargs, "prog": f"{PROG} {argv[0]}"})
        return None
    return LSTMMnistCLI(
        LSTMClassifier,
        MNISTDataModule,
        # a resumed run writes its config.yaml into the folder it continues
        save_config_kwargs={"overwrite": True},
        parser_kwargs={**parser_kwargs, "description": DESCRIPTION},
        args=args,  # None: sys.argv, without Lightning's warning about both
    )


def _discard_unstarted_run(trainer: Trainer) -> None:
    """Remove the run folder of a new fit that stopped before its first step.

    It holds only the config.yaml and an empty TensorBoard file, which would stand in
    lightning_logs/ beside real runs (without a logger: the config.yaml, which would block the
    folder for the next fit).
    """
    if trainer.ckpt_path is not None or not trainer.is_global_zero:
        return
    if trainer.logger is None:  # --trainer.logger false: the run is the root folder itself
        config = Path(trainer.log_dir) / "config.yaml"  # this fit's: a new fit needs none there
        if config.is_file() and not (config.parent / "checkpoints").exists():
            config.unlink()
        return
    if not isinstance(trainer.logger, RunLogger):
        return
    folder = Path(trainer.logger.log_dir)
    if folder.is_dir() and not (folder / "checkpoints").exists():
        shutil.rmtree(folder)
        if not any(folder.parent.iterdir()):
            folder.parent.rmdir()


def gathered(args: list[str]) -> list[str]:
    """``--ckpt_path A --ckpt_path=B`` -> ``--ckpt_path ["A", "B"]`` (for each REPEATABLE)."""
    values: dict[str, list[str]] = {}
    rest, remaining = [], iter(args)
    for arg in remaining:
        option, equals, value = arg.partition("=")
        if option in REPEATABLE:
            values.setdefault(option, []).append(value if equals else next(remaining, ""))
        else:
            rest.append(arg)
    return rest + [item for option, v in values.items() for item in (option, json.dumps(v))]


def cli_main(args: list[str] | None = None) -> None:
    """Entry point of ``python -m lstm_mnist`` and the ``lstm-mnist`` script.

    Exit 0 on success, or one line that says what to fix and exit 1 (2 for a bad command line).
    """
    argv = sys.argv[1:] if args is None else args
    try:
        run_cli(args)
    except ArgumentError as err:
        command = f"{PROG} {argv[0]}" if argv and not argv[0].startswith("-") else PROG
        message = where_set(one_line(str(err)), argv)
        print(f"error: {message} (see '{command} --help')", file=sys.stderr)
        sys.exit(2)
    except (LstmMnistError, MisconfigurationException) as err:
        # the message says what to fix; a traceback would bury it
        message = where_set(one_line(str(err)), argv)
        if "backend found" in message:  # e.g. --trainer.accelerator gpu without a GPU
            message += " Use --trainer.accelerator cpu (or auto) on a machine without one."
        sys.exit(f"error: {message}")
    except KeyboardInterrupt:  # Ctrl-C before or after Lightning's own handling of it
        sys.exit("interrupted")
