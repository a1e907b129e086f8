"""Lightning's own cost per training step, measured with a model that does almost nothing.

    python benchmarks/overhead.py --data-dir ../shared/datasets

The model is one 28x10 weight applied to each sequence's last row, so a step is nearly all
framework. Per-step wall times (start to start, medians over the epochs after the first) of:
  hand     the same data and model in a hand-written loop,
  bare     Trainer.fit with no logger and no callbacks,
  shipped  Trainer.fit with the shipped TensorBoard logger, both checkpoints and the
           learning-rate monitor, and train/loss logged every 50 steps;
  manual   bare, but under Lightning's manual optimization (the step calls backward and
           optimizer.step itself), which skips the closure and some hooks.
The difference bare - hand is what Lightning's loop (hooks, closure, progress tracking) costs a
step; compare it with a real step's time from benchmarks/speed.py.
"""

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger

from lstm_mnist.data import MNISTDataModule
from lstm_mnist.malloc import keep_freed_memory
from lstm_mnist.nvml import skip_nvml_check_without_driver

warnings.filterwarnings("ignore")  # Lightning's advice on workers and log intervals
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class LastRowLinear(L.LightningModule):
    def __init__(self, log_every: int = 0) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(28, 10))
        self.log_every = log_every

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        sequences, labels = batch
        loss = F.cross_entropy(sequences[:, -1] @ self.weight, labels)
        if self.log_every and (self.global_step + 1) % self.log_every == 0:
            self.log("train/loss", loss)
        return loss

    def validation_step(self, batch, batch_idx: int) -> None:
        self.log("val/acc", 1.0)  # something for the best-checkpoint callback to watch

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)


class ManualLastRowLinear(LastRowLinear):
    """The same step under Lightning's manual optimization: no closure, fewer hooks."""

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False

    def training_step(self, batch, batch_idx: int) -> None:
        optimizer = self.optimizers()
        sequences, labels = batch
        loss = F.cross_entropy(sequences[:, -1] @ self.weight, labels)
        optimizer.zero_grad()
        self.manual_backward(loss)
        optimizer.step()


class StepClock(Callback):
    def __init__(self) -> None:
        self.intervals: list[float] = []
        self._last: float | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx: int) -> None:
        now = time.perf_counter()
        if self._last is not None and trainer.current_epoch > 0:
            self.intervals.append(now - self._last)
        self._last = now

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._last = None


def through_lightning(
    data: MNISTDataModule, epochs: int, shipped: bool, manual: bool = False
) -> list[float]:
    workdir = tempfile.mkdtemp()
    clock = StepClock()
    callbacks: list[Callback] = [clock]
    if shipped:
        callbacks += [
            ModelCheckpoint(monitor="val/acc", mode="max", dirpath=f"{workdir}/best"),
            ModelCheckpoint(filename="last", dirpath=f"{workdir}/last"),
            LearningRateMonitor(logging_interval="epoch"),
        ]
    trainer = L.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        devices=1,
        logger=TensorBoardLogger(workdir) if shipped else False,
        callbacks=callbacks,
        enable_checkpointing=shipped,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=1,
        num_sanity_val_steps=0,
        log_every_n_steps=50,
        default_root_dir=workdir,
    )
    model = ManualLastRowLinear() if manual else LastRowLinear(log_every=50 if shipped else 0)
    trainer.fit(model, datamodule=data)
    return clock.intervals


def by_hand(data: MNISTDataModule, epochs: int) -> list[float]:
    data.setup("fit")
    images, labels = data.train_set.images, data.train_set.labels
    model = LastRowLinear()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    intervals = []
    for epoch in range(epochs):
        last = None
        for batch in torch.randperm(len(labels)).split(data.batch_size):
            now = time.perf_counter()
            if last is not None and epoch > 0:
                intervals.append(now - last)
            last = now
            sequences = data.to_sequences(images.index_select(0, batch))
            loss = model.training_step((sequences, labels.index_select(0, batch)), 0)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return intervals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=str(PROJECT_ROOT.parent / "shared/datasets"))
    parser.add_argument("--epochs", type=int, default=3, help="the first is not timed")
    parser.add_argument("--rounds", type=int, default=2, help="hand, bare, shipped; repeated")
    parser.add_argument("--val-size", type=int, default=5000, help="the data module's val_size")
    args = parser.parse_args()
    keep_freed_memory()
    skip_nvml_check_without_driver()

    def data() -> MNISTDataModule:
        return MNISTDataModule(data_dir=args.data_dir, download=False, val_size=args.val_size)

    runs = {
        "hand": lambda: by_hand(data(), args.epochs),
        "bare": lambda: through_lightning(data(), args.epochs, shipped=False),
        "shipped": lambda: through_lightning(data(), args.epochs, shipped=True),
        "manual": lambda: through_lightning(data(), args.epochs, shipped=False, manual=True),
    }
    print("| round | loop | median ms per step |\n|---|---|---|")
    for round_ in range(1, args.rounds + 1):
        for name, run in runs.items():
            print(f"| {round_} | {name} | {1e3 * statistics.median(run()):.3f} |", flush=True)


if __name__ == "__main__":
    main()
