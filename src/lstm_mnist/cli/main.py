"""``lstm-mnist``: LightningCLI over the model and the data, on Lightning's public hooks.

Everything a run needs is a typed constructor argument of the model, the data module, the trainer,
the callbacks or the optimizer, so ``--help`` documents it and ``--print_config`` writes a YAML that
reproduces the run. What the project adds:

- ``parse_arguments`` (before the seed is set and before Lightning reads a checkpoint): the
  checkpoint a command names, taken with its settings; the run a fit continues; the optimizer's
  values; the log folder. Each mistake is one line, and nothing has been written yet.
- ``instantiate_trainer``: this command's callbacks, and nothing left half-made if it fails.
- ``after_fit``: the best checkpoint named, then tested if asked; ``after_predict``: unread files.

The rules about runs (which one ``--ckpt_path last`` continues, what a failed command leaves) are
in ``lstm_mnist.runs``; the checks of a command line in ``checks``.
"""

import importlib
import json
import sys
import warnings
from argparse import ArgumentError
from pathlib import Path

import yaml
from jsonargparse import Namespace, auto_cli
from jsonargparse.typing import PositiveInt
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import LearningRateMonitor, ModelSummary, WeightAveraging
from lightning.pytorch.callbacks.progress.progress_bar import ProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
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
from lstm_mnist.cli.output import CALLBACKS_FOR_RESUMING, Summary, progress_bar, quiet_upstream
from lstm_mnist.cli.requeue import requeue_callback
from lstm_mnist.cli.signals import InterruptBetweenBatches
from lstm_mnist.cli.tuning import NoProfiler, tune_process
from lstm_mnist.core.data import EVALUATIONS, MNISTDataModule
from lstm_mnist.core.errors import LstmMnistError
from lstm_mnist.core.model import LSTMClassifier
from lstm_mnist.runs.checkpoint import (
    LINKED,
    CheckpointError,
    RunCheckpoint,
    read_checkpoint,
    rebuild,
    trained_settings,
)
from lstm_mnist.runs.run import (
    LOGS,
    LeaveNothingUnstarted,
    Run,
    check_folder,
    check_unlogged_root,
    checkpoint_named,
    checkpoint_to_resume,
)
from lstm_mnist.tools.predict import PredictionWriter
from lstm_mnist.tools.report import TestReport

# The callbacks that are settings (--checkpoint.monitor, --test_report.misclassified, ...), and the
# commands each joins: a Trainer calls every callback at every step, and most serve one command.
# The two checkpoints join every command: a checkpoint read back restores their state.
COMMAND_CALLBACKS = {
    "checkpoint": RunCheckpoint,  # the best epoch by val/acc
    "last_checkpoint": RunCheckpoint,  # last.ckpt after every epoch, for resuming
    "lr_monitor": LearningRateMonitor,
    "prediction_writer": PredictionWriter,
    "test_report": TestReport,
}
JOINS = {"lr_monitor": {"fit"}, "prediction_writer": {"predict"}, "test_report": {"test"}}
CALLBACK_DEFAULTS = {
    "checkpoint.monitor": "val/acc",
    "checkpoint.mode": "max",
    "checkpoint.filename": "epoch{epoch:02d}-val_acc{val/acc:.4f}",
    "checkpoint.auto_insert_metric_name": False,
    # (Since Lightning 2.6 `save_last` writes last.ckpt only when a best checkpoint is saved.)
    "last_checkpoint.filename": "last",
    "last_checkpoint.monitor": None,
    "lr_monitor.logging_interval": "epoch",
}
RUN_LOGGER = f"{RunLogger.__module__}.{RunLogger.__name__}"
# where config.yaml files of runs made before 2026-12-07 name it (lstm_mnist/logger.py keeps it)
RUN_LOGGERS = (RUN_LOGGER, "lstm_mnist.logger.RunLogger")


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


class LSTMMnistCLI(LightningCLI):
    """LightningCLI with the project's links, callbacks, logger and checks before a run."""

    def __init__(self, *args, save_config_callback=RunConfig, **kwargs) -> None:
        """LightningCLI's arguments; a fit's config.yaml is written by RunConfig by default."""
        quiet_upstream()
        super().__init__(*args, save_config_callback=save_config_callback, **kwargs)

    @override
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        for size in LINKED:  # from the data module, so a config never states them twice
            parser.link_arguments(f"data.{size}", f"model.{size}", apply_on="instantiate")
        for key, kind in COMMAND_CALLBACKS.items():  # instantiate_trainer says which join
            parser.add_class_arguments(kind, key, fail_untyped=False, sub_configs=True)
        parser.set_defaults(CALLBACK_DEFAULTS)
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
        # OneCycleLR counts its schedule in batches (total_steps), so it steps after each one;
        # Lightning steps a scheduler after each epoch unless told otherwise.
        if not isinstance(lr_scheduler, OneCycleLR):
            return LightningCLI.configure_optimizers(lightning_module, optimizer, lr_scheduler)
        trainer = lightning_module.trainer
        # the fit's step count is known only now, with the data set up
        check_one_cycle_length(lr_scheduler, trainer.estimated_stepping_batches, trainer.ckpt_path)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": lr_scheduler, "interval": "step"},
        }

    @override
    def parse_arguments(self, parser: LightningArgumentParser, args) -> None:
        argv = list(sys.argv[1:] if args is None else args)
        # test/validate/predict print their config with the checkpoint's settings in it: after
        # the parse, which would print it with the defaults in their place
        printing = [arg for arg in argv if arg.partition("=")[0] == "--print_config"]
        printing = printing if argv and argv[0] in EVALUATIONS else []
        super().parse_arguments(
            parser, [a for a in argv if a not in printing] if printing else args
        )
        subcommand = self.config.get("subcommand")
        config = self.config[subcommand] if subcommand else self.config
        self.run: Run | None = None  # the existing run this command writes into
        self.purge_step = None  # a resumed fit's first step: TensorBoard hides the later ones
        if subcommand in EVALUATIONS and (config.ckpt_path or not printing):
            self.run = self._evaluated_checkpoint(subcommand, config, _options(argv))
        elif subcommand not in EVALUATIONS:
            self.run = self._resumed_run(config)
        if printing:
            print(self._dump(printing[-1].partition("=")[2].split(",")))
            sys.exit(0)
        check_optimization(config)
        check_checkpointing(config)
        self._choose_logger(config, subcommand or "fit")

    def _resumed_run(self, config) -> Run | None:
        """The run a fit continues, held to its settings; None for a new fit."""
        if not config.get("ckpt_path"):
            return None
        root = _root(config)
        if config.ckpt_path == "last" and (_our_logger(config) or config.trainer.logger is False):
            logged = config.trainer.logger is not False  # a run continues with the same logging
            config.ckpt_path = str(checkpoint_to_resume(root, self._settings(), logged))
            rank_zero_info(f"Resuming from {config.ckpt_path}")
        if config.ckpt_path in ("last", "hpc"):  # the user's own logger: Lightning finds it
            return None
        checkpoint = read_checkpoint(config.ckpt_path)
        conflicts = [
            f"{section}.{key}={value!r} (this fit: {config[section][key]!r})"
            for section, values in trained_settings(checkpoint).items()
            for key, value in values.items()
            if config[section][key] != value
        ]
        run = Run.of_checkpoint(config.ckpt_path)
        found = run.differences(self._settings()) if run is not None else None
        if conflicts or found:
            owner = f"belongs to {run.folder}, " if found else ""
            again = f"--config {run.folder / 'config.yaml'}" if found else "its run's config.yaml"
            raise CheckpointError(
                f"checkpoint {config.ckpt_path} {owner}was trained with "
                f"{'; '.join((conflicts or found)[:3])}: resume it with {again} (--config), or "
                "start anew without --ckpt_path"
            )
        if config.seed_everything is True and run is not None and run.seed is not None:
            config.seed_everything = run.seed  # "any seed": the run's own
        self.purge_step = checkpoint.get("global_step", 0)
        return run

    def _evaluated_checkpoint(self, subcommand: str, config, explicit: set[str]) -> Run | None:
        """Require the checkpoint test/validate/predict score, and take its settings.

        They score a trained model, so the model and data settings it was trained with come from
        its file; an option that contradicts them is named. Returns the run a test reports into.
        """
        if not config.ckpt_path:
            raise CheckpointError(
                f"{subcommand} needs a trained model: pass --ckpt_path with the checkpoint "
                "path a fit printed, or --ckpt_path last (best) for the newest run's last (best)"
            )
        config.ckpt_path = checkpoint_named(config.ckpt_path, _root(config))
        checkpoint = read_checkpoint(config.ckpt_path)
        rebuild(checkpoint, config.ckpt_path)  # its weights fit its settings, or one line
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
        return Run.of_checkpoint(config.ckpt_path) if subcommand == "test" else None

    def _choose_logger(self, config, subcommand: str) -> None:
        """TensorBoard in the run folder, unless the user configured a logger (or none).

        A fit writes a new ``<default_root_dir>/lightning_logs/version_N`` (or continues the run
        it resumes); a test writes its report into the checkpoint's run; validate and predict
        write nothing, and keep no run's config.
        """
        if subcommand != "fit":
            self.save_config_callback = None  # a run's config.yaml is its fit's
        ours = _our_logger(config)
        self.new_run = subcommand == "fit" and self.run is None and ours
        if not ours:
            if subcommand == "fit" and config.trainer.logger is False:
                check_unlogged_root(_root(config), self.run)
                self.new_run = self.run is None
            return
        if subcommand in ("validate", "predict"):
            config.trainer.logger = False
            return
        self.save_config_kwargs["project_logger"] = True  # config.yaml records `logger: true`
        if self.run is not None:
            save_dir, name, version = self.run.folder.parent, "", self.run.folder.name
        else:
            option = "trainer.default_root_dir"
            save_dir, name, version = check_folder(_root(config), option), LOGS, None
        init = {"save_dir": str(save_dir), "name": name, "version": version}
        # the report writes the hparams tab: no hp_metric chart of one dot
        init.update(default_hp_metric=False, log_graph=subcommand == "fit")
        init["purge_step"] = self.purge_step
        config.trainer.logger = Namespace(class_path=RUN_LOGGER, init_args=Namespace(**init))

    def _settings(self) -> dict:
        """This command's whole config as plain data, as a run's config.yaml records it."""
        dumped = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
        return dumped.get(self.config.get("subcommand"), dumped)

    def _dump(self, flags: list[str]) -> str:
        """This command's config as --print_config prints it (flags: skip_null, skip_default)."""
        skips = {"skip_none": "skip_null" in flags, "skip_default": "skip_default" in flags}
        dumped = yaml.safe_load(self.parser.dump(self.config, **skips))
        return yaml.safe_dump(dumped[self.config.subcommand], sort_keys=False).rstrip()

    @override
    def before_instantiate_classes(self) -> None:
        check_cosine_length(self.config.get(self.subcommand) if self.subcommand else self.config)

    @override
    def instantiate_classes(self) -> None:
        with warnings.catch_warnings():  # the model's own configure_optimizers is for Python
            warnings.filterwarnings("ignore", message=r".*configure_optimizers` will be overridden")
            super().instantiate_classes()

    @override
    def instantiate_trainer(self, **kwargs) -> Trainer:
        config = self.config_init[self.subcommand] if self.subcommand else self.config_init
        if config.trainer.get("profiler") is None:  # Lightning's per-call cost for nothing
            kwargs.setdefault("profiler", NoProfiler())
        trainer = super().instantiate_trainer(callbacks=self._callbacks(config), **kwargs)
        check_cpu_bf16(trainer)
        return trainer

    def _callbacks(self, config) -> list:
        """The callbacks of this command: the configured ones, and each of ours it uses.

        Without a subcommand (run=False) a caller mostly fits.
        """
        subcommand, trainer = self.subcommand or "fit", config.trainer
        callbacks = list(trainer.get("callbacks") or [])
        if subcommand != "fit":  # it averages training steps; elsewhere it could only warn
            callbacks = [c for c in callbacks if not isinstance(c, WeightAveraging)]
        joins = {
            **JOINS,
            "test_report": {"test", *(["fit"] if config.get("test_after_fit") else [])},
        }
        if trainer.logger is False:  # the learning-rate monitor needs a logger
            joins["lr_monitor"] = set()
        if trainer.get("enable_checkpointing") is False:  # Lightning refuses them then
            joins["checkpoint"] = joins["last_checkpoint"] = set()
        callbacks += [
            config[key] for key in COMMAND_CALLBACKS if subcommand in joins.get(key, {subcommand})
        ]
        if subcommand == "fit":  # signals handled between batches: see signals.py, requeue.py
            callbacks += [InterruptBetweenBatches(), requeue_callback(trainer.get("plugins") or [])]
        if trainer.get("enable_progress_bar") is not False and not _has(callbacks, ProgressBar):
            callbacks.append(progress_bar(config.get("progress_refresh_rate", 10)))
        if trainer.get("enable_model_summary") is not False and not _has(callbacks, ModelSummary):
            callbacks.append(Summary())
        callbacks.append(LeaveNothingUnstarted(self.run, self.new_run))
        return [callback for callback in callbacks if callback is not None]

    def before_test(self) -> None:
        """No training callback is restored in an evaluation: Lightning's advice would mislead."""
        warnings.filterwarnings("ignore", message=CALLBACKS_FOR_RESUMING)

    before_validate = before_predict = before_test

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


def _has(callbacks: list, kind: type) -> bool:
    return any(isinstance(callback, kind) for callback in callbacks)


def _root(config) -> Path:
    """Where runs are written: --trainer.default_root_dir, else the current folder.

    Absolute: ModelCheckpoint restores its record of the best and last files on resume only when its
    folder is spelled the same (otherwise it writes last-v1.ckpt beside last.ckpt).
    """
    return Path(config.trainer.default_root_dir or ".").absolute()


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


def _options(argv: list[str]) -> set[str]:
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
