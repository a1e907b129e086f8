"""LightningCLI over the model and the data, wired on Lightning's public hooks.

Everything a run needs is a typed constructor argument of the model, the data module, the trainer,
the callbacks or the optimizer, so ``--help`` documents it and ``--print_config`` writes a YAML that
reproduces the run. What the project adds:

- ``parse_arguments`` (before the seed is set and before Lightning reads a checkpoint): the
  checkpoint a command names, taken with its settings; the run a fit continues; the optimizer's
  values; the logger. Each mistake is one line, and nothing has been written yet.
- ``instantiate_trainer``: this command's callbacks (callbacks.py), and nothing left half-made if
  it fails (``runs.run.LeaveNothingUnstarted``).
- ``after_fit``: the best checkpoint named, then tested if asked; ``after_predict``: unread files.
"""

import sys
import warnings
from pathlib import Path

import yaml
from jsonargparse.typing import PositiveInt
from lightning.pytorch import Trainer
from lightning.pytorch.callbacks import WeightAveraging
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.utilities import rank_zero_info
from torch.optim.lr_scheduler import OneCycleLR
from typing_extensions import override

from lstm_mnist.cli.callbacks import DEFAULTS, SETTINGS, command_callbacks
from lstm_mnist.cli.checks import (
    check_checkpointing,
    check_cosine_length,
    check_cpu_bf16,
    check_one_cycle_length,
    check_optimization,
)
from lstm_mnist.cli.logger import RunConfig, our_logger, run_logger
from lstm_mnist.cli.output import CALLBACKS_FOR_RESUMING, quiet_upstream
from lstm_mnist.cli.tuning import NoProfiler
from lstm_mnist.core.data import EVALUATIONS
from lstm_mnist.core.errors import LstmMnistError
from lstm_mnist.runs.checkpoint import LINKED, CheckpointError
from lstm_mnist.runs.run import (
    Run,
    check_resume,
    check_unlogged_root,
    checkpoint_or_pretrained,
    checkpoint_to_resume,
    evaluation_settings,
)


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
        for key, kind in SETTINGS.items():  # instantiate_trainer says which commands they join
            parser.add_class_arguments(kind, key, fail_untyped=False, sub_configs=True)
        parser.set_defaults(DEFAULTS)
        after = "After fit, test the best checkpoint (by val/acc) on the test set."
        parser.add_argument("--test_after_fit", type=bool, default=False, help=after)
        rate = (
            "Steps between redraws of the progress bar that the CLI adds when none is configured."
        )
        parser.add_argument("--progress_refresh_rate", type=PositiveInt, default=10, help=rate)

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
        stepped = {"scheduler": lr_scheduler, "interval": "step"}
        return {"optimizer": optimizer, "lr_scheduler": stepped}

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
            self._take_checkpoint_settings(subcommand, config, argv)
        elif subcommand not in EVALUATIONS and config.get("ckpt_path"):
            self._check_resume(config)
        if printing:
            print(_dump(self.parser, self.config, printing[-1].partition("=")[2].split(",")))
            sys.exit(0)
        check_optimization(config)
        check_checkpointing(config)
        self._choose_logger(config, subcommand or "fit")

    def _check_resume(self, config) -> None:
        """A fit continues a run only with its settings: ``last`` (ours) resolved, then checked."""
        if config.ckpt_path == "last" and (our_logger(config) or config.trainer.logger is False):
            logged = config.trainer.logger is not False  # a run continues with the same logging
            config.ckpt_path = str(
                checkpoint_to_resume(_root(config), _settings(self.parser, self.config), logged)
            )
            rank_zero_info(f"Resuming from {config.ckpt_path}")
        if config.ckpt_path in ("last", "hpc"):  # the user's own logger: Lightning finds it
            return
        self.run, checkpoint = check_resume(config.ckpt_path, _settings(self.parser, self.config))
        if config.seed_everything is True and self.run is not None and self.run.seed is not None:
            config.seed_everything = self.run.seed  # "any seed": the run's own
        self.purge_step = checkpoint.get("global_step", 0)

    def _take_checkpoint_settings(self, subcommand: str, config, argv: list[str]) -> None:
        """Test, validate and predict score a trained model: its settings come from its file."""
        if not config.ckpt_path and subcommand != "predict":  # predict: the packaged model
            raise CheckpointError(
                f"{subcommand} needs a trained model: pass --ckpt_path with the checkpoint "
                "path a fit printed, or --ckpt_path last (best) for the newest run's last (best)"
            )
        root = _root(config)
        config.ckpt_path = checkpoint_or_pretrained(config.ckpt_path, root, f"{subcommand}:")
        told = {arg[2:].split("=", 1)[0] for arg in argv if arg.startswith("--")}
        given = {"model": config.model.as_dict(), "data": config.data.as_dict()}
        needs_data = not (subcommand == "predict" and config.data.predict_files)
        taken = evaluation_settings(config.ckpt_path, given, told, subcommand, needs_data)
        for section, values in taken.items():
            for key, value in values.items():
                config[section][key] = value
        if subcommand == "test":  # the report goes beside the run's own curves
            self.run = Run.of_checkpoint(config.ckpt_path)

    def _choose_logger(self, config, subcommand: str) -> None:
        """TensorBoard in the run folder (cli/logger.py), unless the user configured one (or none).

        Validate and predict write nothing; only a fit keeps its run's config.yaml.
        """
        if subcommand != "fit":
            self.save_config_callback = None
        self.new_run = subcommand == "fit" and self.run is None and our_logger(config)
        if subcommand == "fit" and config.trainer.logger is False:
            check_unlogged_root(_root(config), self.run)
            self.new_run = self.run is None
        elif subcommand in ("validate", "predict") and our_logger(config):
            config.trainer.logger = False
        elif our_logger(config):
            self.save_config_kwargs["project_logger"] = True  # config.yaml records `logger: true`
            config.trainer.logger = run_logger(_root(config), self.run, subcommand, self.purge_step)

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
        # without a subcommand (run=False) a caller mostly fits
        callbacks = command_callbacks(self.subcommand or "fit", config, self.run, self.new_run)
        trainer = super().instantiate_trainer(callbacks=callbacks, **kwargs)
        check_cpu_bf16(trainer)
        return trainer

    def before_test(self) -> None:
        """An evaluation restores no training callback: Lightning's advice to add them misleads."""
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
            # A checkpoint holds the averaged weights that val/acc scored; a living average would
            # have Lightning's callback test the training weights instead.
            callbacks = self.trainer.callbacks
            self.trainer.callbacks = [c for c in callbacks if not isinstance(c, WeightAveraging)]
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=CALLBACKS_FOR_RESUMING)
                # the path: "best" would warn that there are two checkpoint callbacks
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


def _root(config) -> Path:
    """Where runs are written: --trainer.default_root_dir, else the current folder.

    Absolute: ModelCheckpoint restores its record of the best and last files on resume only when its
    folder is spelled the same (otherwise it writes last-v1.ckpt beside last.ckpt).
    """
    return Path(config.trainer.default_root_dir or ".").absolute()


def _settings(parser, config) -> dict:
    """A command's whole config as plain data, as a run's config.yaml records it."""
    dumped = yaml.safe_load(parser.dump(config, skip_unset=False))
    return dumped.get(config.get("subcommand"), dumped)


def _dump(parser, config, flags: list[str]) -> str:
    """A command's config as --print_config prints it (flags: skip_null, skip_default)."""
    skips = {"skip_unset": "skip_null" in flags, "skip_default": "skip_default" in flags}
    dumped = yaml.safe_load(parser.dump(config, **skips))
    return yaml.safe_dump(dumped[config.subcommand], sort_keys=False).rstrip()
