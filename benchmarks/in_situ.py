"""Per-step costs measured inside a real training epoch, where they are larger than alone.

    python benchmarks/in_situ.py --data-dir ../shared/datasets

benchmarks/micro.py times each cost in a tight loop, with warm caches. Here one epoch trains
through the CLI with a shipped config (--config, default configs/default.yaml: its logger and
callbacks, best and last checkpoint and learning-rate monitor included; one validation batch),
and the costs are timed where they happen, between the
LSTM's kernels, by wrapping the functions that pay them. Microseconds per training step (the
mean over the epoch: rare costs, such as a log call every 50 steps, are spread over all steps):
  accuracy update, every step   what a torchmetrics update per step would cost (a probe metric
                                updated with each step's logits, right after the step)
  accuracy + loss log, shipped  what LSTMClassifier pays: updates and self.log once per
                                log_every_n_steps steps, on the batched logits
  callback dispatch             Lightning's calls of the callbacks' hooks within training steps
  ModelCheckpoint.state_key     part of the dispatch: a label Lightning builds per callback call
  LightningModule hooks ...     Lightning's calls of the model's step hooks, which it leaves empty
"""

import argparse
import collections
import tempfile
import time
import warnings
from pathlib import Path

from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.trainer import call
from torchmetrics.classification import MulticlassAccuracy

from lstm_mnist.cli import LSTMMnistCLI
from lstm_mnist.data import MNISTDataModule
from lstm_mnist.malloc import keep_freed_memory
from lstm_mnist.model import LSTMClassifier
from lstm_mnist.nvml import skip_nvml_check_without_driver

warnings.filterwarnings("ignore")  # Lightning's advice on workers
PROJECT_ROOT = Path(__file__).resolve().parents[1]
SECONDS: collections.Counter = collections.Counter()
STEP_HOOKS = {
    "on_train_batch_start",
    "on_before_backward",
    "on_after_backward",
    "on_before_optimizer_step",
    "on_before_zero_grad",
    "on_train_batch_end",
}
COSTS = [  # the rows of the table, as timed by instrument()
    "accuracy update, every step",
    "accuracy + loss log, shipped",
    "callback dispatch",
    "ModelCheckpoint.state_key",
    "LightningModule hooks left empty",
]


def timed(name: str, function):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            SECONDS[name] += time.perf_counter() - start

    return wrapper


def instrument(model: LSTMClassifier) -> None:
    """Wrap what pays each cost (see COSTS) in timers."""
    time_shipped_bookkeeping(model)
    add_per_step_accuracy_probe(model)
    time_step_callbacks()
    time_empty_module_hooks()


def time_shipped_bookkeeping(model: LSTMClassifier) -> None:
    shipped = timed("accuracy + loss log, shipped", lambda function: function())
    update_train_accuracy, log = model._update_train_accuracy, model.log
    model._update_train_accuracy = lambda: shipped(update_train_accuracy)

    def log_timing_train_loss(name, value, **kwargs):
        if name != "train/loss":
            return log(name, value, **kwargs)
        return shipped(lambda: log(name, value, **kwargs))

    model.log = log_timing_train_loss


def add_per_step_accuracy_probe(model: LSTMClassifier) -> None:
    """After each training step, update a metric of its own with that step's logits."""
    probe = MulticlassAccuracy(model.hparams.num_classes, average="micro")
    probe_update = timed("accuracy update, every step", probe.update)
    logits = {}
    model.head.register_forward_hook(lambda module, args, output: logits.update(last=output))
    training_step = model.training_step

    def training_step_with_probe(batch, batch_idx):
        loss = training_step(batch, batch_idx)
        probe_update(logits["last"].detach(), batch[1])
        return loss

    model.training_step = training_step_with_probe


def time_step_callbacks() -> None:
    """Time the callback hooks of training steps only: an epoch's hooks save checkpoints."""
    call_callback_hooks, state_key = call._call_callback_hooks, ModelCheckpoint.state_key.fget
    timed_dispatch = timed("callback dispatch", call_callback_hooks)
    timed_state_key = timed("ModelCheckpoint.state_key", state_key)
    in_step_hook = False

    def call_callback_hooks_timing_steps(trainer, hook_name, *args, **kwargs):
        nonlocal in_step_hook
        if hook_name not in STEP_HOOKS:
            return call_callback_hooks(trainer, hook_name, *args, **kwargs)
        in_step_hook = True
        try:
            return timed_dispatch(trainer, hook_name, *args, **kwargs)
        finally:
            in_step_hook = False

    call._call_callback_hooks = call_callback_hooks_timing_steps
    ModelCheckpoint.state_key = property(
        lambda callback: (timed_state_key if in_step_hook else state_key)(callback)
    )


def time_empty_module_hooks() -> None:
    """Lightning calls the model's step hooks (STEP_HOOKS) too; LSTMClassifier leaves them empty."""
    call_module_hook = call._call_lightning_module_hook
    timed_call = timed("LightningModule hooks left empty", call_module_hook)

    def call_module_hook_timing_empty(trainer, hook_name, *args, **kwargs):
        function = timed_call if hook_name in STEP_HOOKS else call_module_hook
        return function(trainer, hook_name, *args, **kwargs)

    call._call_lightning_module_hook = call_module_hook_timing_empty


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=str(PROJECT_ROOT.parent / "shared/datasets"))
    parser.add_argument("--config", default=str(PROJECT_ROOT / "configs/default.yaml"))
    parser.add_argument("--val-size", type=int, default=5000, help="the data module's val_size")
    args = parser.parse_args()
    keep_freed_memory()
    skip_nvml_check_without_driver()
    with tempfile.TemporaryDirectory() as workdir:
        cli = LSTMMnistCLI(
            LSTMClassifier,
            MNISTDataModule,
            args=["--config", args.config, "--data.data_dir", args.data_dir]
            + ["--data.download", "false", "--data.val_size", str(args.val_size)]
            + ["--trainer.max_epochs", "1", "--trainer.accelerator", "cpu"]
            + ["--trainer.limit_val_batches", "1", "--trainer.enable_progress_bar", "false"]
            + ["--trainer.default_root_dir", workdir],
            run=False,
        )
        instrument(cli.model)
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    steps = cli.trainer.global_step
    print(f"one epoch, {steps} training steps\n| cost | us per training step |\n|---|---|")
    for name in COSTS:
        print(f"| {name} | {1e6 * SECONDS[name] / steps:.1f} |")


if __name__ == "__main__":
    main()
