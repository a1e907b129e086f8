"""After a test, TensorBoard shows what the numbers hide: errors, confusions and the reading."""

from pathlib import Path

import torch
import yaml
from jsonargparse.typing import NonNegativeInt
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.tensorboard.summary import hparams
from typing_extensions import override

from lstm_mnist.core.data import TEST_SETTINGS
from lstm_mnist.tools.figures import confusion_matrix_figure, misclassified_figure, reading_figure
from lstm_mnist.tools.inside import VIEWS, inside_figure, look_inside
from lstm_mnist.tools.reading import read_digits


class TestReport(Callback):
    """At the end of ``test`` (rank 0), TensorBoard's figures and hparams.

    A confusion matrix, the misclassified digits (most confident mistakes first, each with its
    test index for ``explain --index``), the LSTM's reading of a few digits and what happens
    inside it while it reads the first of them (its memory, its gates, which units decide; more
    digits: ``explain --view``), and the run's row in the hparams tab:
    what makes runs differ, beside their test/ and val/ curves.
    """

    def __init__(
        self, reading_digits: list[NonNegativeInt] | None = None, misclassified: NonNegativeInt = 32
    ) -> None:
        """Choose the digits the report draws.

        Args:
            reading_digits: Test-set indices whose row-by-row class probabilities are drawn
                (default: the first four); the first is also seen from inside the LSTM.
            misclassified: How many misclassified test digits the grid shows.
        """
        self.reading_digits = reading_digits if reading_digits is not None else [0, 1, 2, 3]
        self.misclassified = misclassified

    @override
    @torch.inference_mode()
    def on_test_end(self, trainer, pl_module) -> None:
        logger = next((lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)
        if logger is None or not trainer.is_global_zero:
            return
        data = trainer.datamodule
        # in host memory: the figures are drawn there (the set may be on the GPU, on_device)
        images, labels = data.test_set.images.cpu(), data.test_set.labels.cpu()
        # The whole test set again, on rank 0 alone: under DDP each rank saw only its share.
        # Read as the test read them: with its test-time shifts, if any.
        shifts = data.test_time_shifts
        parts = images.split(1000)
        probs = torch.cat([probabilities(pl_module, data, part, shifts) for part in parts])
        preds = probs.argmax(dim=-1)
        matrix = torch.bincount(labels * 10 + preds, minlength=100).reshape(10, 10)
        chosen = torch.tensor(self.reading_digits, dtype=torch.long)
        readings = [[reading] for reading in read_digits(pl_module, data, images[chosen])]
        step, writer = trainer.global_step, logger.experiment
        writer.add_figure("test/confusion_matrix", confusion_matrix_figure(matrix), step)
        wrong = misclassified_figure(images, labels, probs, self.misclassified)
        writer.add_figure("test/misclassified", wrong, step)
        reading = reading_figure(images[chosen], readings, labels[chosen].tolist())
        writer.add_figure("test/reading", reading, step)
        # Inside the LSTM (docs/lstm.md) for one digit: a figure per digit and view would make
        # every test a few seconds slower, and explain --view draws any others.
        first = images[chosen[:1]]
        insides = look_inside(pl_module, data, first)
        for view in VIEWS:
            writer.add_figure(f"test/{view}", inside_figure(first, insides, view), step)
        _write_hparams_table(writer, run_settings_table(logger.log_dir, pl_module, data))


def sequences(model, data, images: torch.Tensor, test_time_shifts: int = 0) -> torch.Tensor:
    """uint8 images -> the model's input sequences, exactly as the data module prepares them."""
    return data.to_sequences(images.to(model.device), test_time_shifts=test_time_shifts)


def probabilities(model, data, images: torch.Tensor, test_time_shifts: int = 0) -> torch.Tensor:
    """The class probabilities of each uint8 image, (N, classes) on the host.

    With ``test_time_shifts``, the mean over the image and its one-pixel moves.
    """
    return model(sequences(model, data, images, test_time_shifts)).softmax(dim=-1).cpu()


# What makes one run differ from another; the rest (data_dir, predict_files, LightningCLI's
# _instantiator, on_device...) says where and how it ran, and would only widen the table.
MODEL_COLUMNS = (
    "hidden_size", "num_layers", "bidirectional", "dropout", "init", "readout", "label_smoothing"
)  # fmt: skip
DATA_COLUMNS = (
    "dataset", "scan", "pad_width", "crop", "normalization", "batch_size", "max_shift",
    "max_rotation", "horizontal_flip", "elastic_alpha", "slant", "stroke_width", "blur",
    "test_time_shifts",
)  # fmt: skip


def run_settings_table(log_dir: str | None, model, data) -> dict[str, object]:
    """The hparams tab's columns: training recipe (from the run's config.yaml), model, data."""
    table: dict[str, object] = {}
    fitted: dict[str, object] = {}  # the fit's data settings
    config_file = Path(log_dir or ".") / "config.yaml"
    if config_file.is_file():  # written by the fit; absent for a logger of the user's own
        config = yaml.safe_load(config_file.read_text()) or {}
        table.update(_recipe(config))
        fitted = config.get("data") or {}
    table.update({f"model/{key}": model.hparams[key] for key in MODEL_COLUMNS})
    # A test of a checkpoint builds its data module with the checkpoint's input settings only
    # (not its augmentation or batch size): those come from the fit's config; how the test
    # read the images comes from this one.
    for key in DATA_COLUMNS:
        fit_value = key in fitted and key not in TEST_SETTINGS
        table[f"data/{key}"] = fitted[key] if fit_value else data.hparams[key]
    table["model/parameters"] = sum(p.numel() for p in model.parameters())
    return {
        key: value if isinstance(value, int | float | str) else str(value)
        for key, value in table.items()
    }


def _recipe(config: dict) -> dict[str, object]:
    optimizer = config.get("optimizer") or {}
    scheduler = config.get("lr_scheduler") or {}
    trainer = config.get("trainer") or {}
    return {
        # no optimizer in the config: the model's own configure_optimizers, the seed's
        "fit/optimizer": _class_name(optimizer) or "RMSprop",
        "fit/lr": (optimizer.get("init_args") or {}).get("lr", 1e-3),
        "fit/lr_scheduler": _class_name(scheduler) or "none",
        "fit/max_epochs": trainer.get("max_epochs"),
        "fit/gradient_clip_val": trainer.get("gradient_clip_val") or 0.0,
        "fit/seed": config.get("seed_everything"),
    }


def _class_name(spec: dict) -> str:
    return str(spec.get("class_path", "")).rsplit(".", 1)[-1]


def _write_hparams_table(writer, table: dict[str, object]) -> None:
    """The hparams tab's row for this run, its metrics the run's own test/ and val/ curves.

    Written directly rather than by the logger's log_hyperparams, which would also log each
    metric again as a chart of one dot.
    """
    metrics = dict.fromkeys(("test/acc", "test/loss", "val/acc"), 0.0)  # names; values unread
    for summary in hparams(table, metrics):  # file_writer is open: the figures just used it
        writer.file_writer.add_summary(summary)
