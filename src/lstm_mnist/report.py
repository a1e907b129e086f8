"""After a test, TensorBoard shows what the numbers hide: errors, confusions and the reading."""

import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import TensorBoardLogger
from typing_extensions import override

from lstm_mnist.figures import confusion_matrix_figure, misclassified_figure, reading_figure


class TestReport(Callback):
    """At the end of ``test`` (rank 0), TensorBoard's figures and hparams.

    A confusion matrix, a grid of misclassified digits, the LSTM's running guess on a few digits,
    and the hparams tab with best val/acc and test/acc.
    """

    def __init__(self, reading_digits: list[int] | None = None, misclassified: int = 32) -> None:
        """Choose the digits the report draws.

        Args:
            reading_digits: Test-set indices whose row-by-row class probabilities are drawn
                (default: the first four).
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
        preds = torch.cat([predict(pl_module, data, part) for part in images.split(1000)])
        matrix = torch.bincount(labels * 10 + preds, minlength=100).reshape(10, 10)
        chosen = torch.tensor(self.reading_digits, dtype=torch.long)
        running = pl_module.running_probabilities(sequences(pl_module, data, images[chosen]))
        step, writer = trainer.global_step, logger.experiment
        writer.add_figure("test/confusion_matrix", confusion_matrix_figure(matrix), step)
        wrong = misclassified_figure(images, labels, preds, self.misclassified)
        writer.add_figure("test/misclassified", wrong, step)
        reading = reading_figure(images[chosen], running.cpu(), labels[chosen])
        writer.add_figure("test/reading", reading, step)
        logger.log_hyperparams(_hparams(pl_module, data), metrics=_summary(trainer))


def sequences(model, data, images: torch.Tensor) -> torch.Tensor:
    """uint8 images -> the model's input sequences, exactly as the data module prepares them."""
    return data.to_sequences(images.to(model.device))


def predict(model, data, images: torch.Tensor) -> torch.Tensor:
    """The predicted class of each uint8 image, on the host."""
    return model(sequences(model, data, images)).argmax(dim=-1).cpu()


def _hparams(model, data) -> dict:
    return {
        **{f"model/{k}": v for k, v in model.hparams.items()},
        **{f"data/{k}": v for k, v in data.hparams.items()},
    }


def _summary(trainer) -> dict[str, float]:
    metrics = {"hp/test_acc": float(trainer.callback_metrics["test/acc"])}
    checkpoint = trainer.checkpoint_callback
    if checkpoint is not None and checkpoint.best_model_score is not None:
        metrics["hp/best_val_acc"] = float(checkpoint.best_model_score)
    return metrics
