"""The run's TensorBoard logger: the charts a learner opens are the ones that teach something."""

from lightning.pytorch.loggers import TensorBoardLogger
from typing_extensions import override

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
