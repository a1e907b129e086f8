"""Training and inference throughput: the project's Trainer.fit against a hand-written loop.

    python benchmarks/speed.py --data-dir ../shared/datasets      # CPU, the shipped config
    python benchmarks/speed.py --accelerator gpu --batch-size 1024 --precision bf16-mixed

One run measures, on the same data and machine:
  (a) Trainer.fit through LightningCLI with a shipped config, logging and checkpointing as shipped
      (the progress bar off unless --progress-bar; the CLI redraws it every 10 steps);
  (b) what (a) trains (model settings, optimizer, clipping, data transform and augmentation,
      all read from (a)'s config) in a minimal hand-written PyTorch loop, run in turns with
      (a) inside each of its epochs (--interleave steps at a time), so both see the same machine;
  (c) inference on the 10,000 test images.
Each is repeated (epochs of one fit for (a), the first dropped as warm-up) and the medians are
printed as a Markdown table. The ratio (a)/(b) is taken over the paired turns (sum of (b)'s
seconds over sum of (a)'s), with a 95% bootstrap interval: how far the machine's noise leaves it
uncertain. A benchmark, not a test: CI judges no number; tests/test_benchmark.py only runs it on
tiny data to keep it working.
"""

import argparse
import itertools
import json
import random
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback
from torch.profiler import ProfilerActivity, profile
from typing_extensions import override

from lstm_mnist.cli import LSTMMnistCLI
from lstm_mnist.cli.tuning import tune_process
from lstm_mnist.core.data import MNISTDataModule
from lstm_mnist.core.model import LSTMClassifier
from lstm_mnist.runs.checkpoint import constructor_args
from lstm_mnist.tools.report import probabilities

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The CLI is given its arguments by this script, which has command-line arguments of its own.
warnings.filterwarnings("ignore", message=r"LightningCLI's args parameter is intended")


class InterleavedClock:
    """Wall time of each of (a)'s epochs, with the hand loop (b) run in between.

    Its training batches and the whole epoch with validation, (b)'s turns off (a)'s clock.

    Every ``every`` training batches (a) pauses and (b) runs as many steps of its own epoch, so
    that a change of the machine's speed (frequent and large on small shared machines, and often
    shorter than an epoch) hits both loops alike; (b) finishes its epoch when (a)'s ends.

    The clock runs inside the model's own hooks, which Lightning calls at every step anyway: as a
    callback, Lightning would call it ~6 times a step and charge that to (a), which no shipped
    run has.
    """

    HOOKS = (
        "on_train_epoch_start",
        "on_train_batch_end",
        "on_validation_start",
        "on_train_epoch_end",
    )

    def __init__(self, hand: "HandLoop", every: int) -> None:
        """Run ``hand`` for ``every`` steps after every ``every`` steps of (a)."""
        self.hand, self.every = hand, every
        self.train_seconds: list[float] = []
        self.epoch_seconds: list[float] = []
        # Per epoch, (a)'s and (b)'s seconds for each turn of `every` steps: a paired sample.
        self.turns: list[list[tuple[float, float]]] = []

    def attach(self, model: LSTMClassifier) -> None:
        """Run each of HOOKS after the model's own hook of that name."""
        for name in self.HOOKS:
            setattr(model, name, _then(getattr(model, name), getattr(self, name)))
        self.model = model

    def on_train_epoch_start(self) -> None:
        """(a)'s epoch starts: so does (b)'s."""
        self.hand.start_epoch()
        self._paused = 0.0
        self._start = self._turn_start = self._now()
        self.turns.append([])

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        """Every ``every`` batches, pause (a)'s clock and run (b)'s turn."""
        if (batch_idx + 1) % self.every == 0:
            pause = self._now()
            hand_seconds = self.hand.steps(self.every)
            self.turns[-1].append((pause - self._turn_start, hand_seconds))
            self._turn_start = self._now()
            self._paused += self._turn_start - pause

    def on_validation_start(self) -> None:
        """(a)'s training batches are over: their time."""
        if not self.model.trainer.sanity_checking:
            self.train_seconds.append(self._now() - self._start - self._paused)

    def on_train_epoch_end(self) -> None:
        """(a)'s epoch is over: its time; (b) finishes its own epoch."""
        self.epoch_seconds.append(self._now() - self._start - self._paused)
        self.hand.finish_epoch()

    def _now(self) -> float:
        if self.hand.device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter()


def _then(first, second):
    def both(*args, **kwargs):
        first(*args, **kwargs)
        second(*args, **kwargs)

    return both


def lstm_kernels(device: torch.device) -> list[str]:
    """The LSTM ops one training step runs: on CPU, aten::mkldnn_rnn_layer means oneDNN."""
    model = LSTMClassifier().to(device)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model(torch.rand(8, 28, 28, device=device)).sum().backward()
    names = {event.key for event in prof.key_averages()}
    return sorted(name for name in names if name.startswith("aten::") and "rnn" in name)


def project_cli(args, workdir: Path) -> LSTMMnistCLI:
    """The run (a) trains: the CLI with the shipped config, built without running a subcommand."""
    cli_args = [
        "--config",
        str(args.config),
        "--data.data_dir",
        str(args.data_dir),
        "--data.batch_size",
        str(args.batch_size),
        "--trainer.max_epochs",
        str(args.repeats + 1),
        "--trainer.accelerator",
        args.accelerator,
        "--trainer.devices",
        "1",
        "--trainer.default_root_dir",
        str(workdir),
        "--trainer.enable_progress_bar",
        str(args.progress_bar).lower(),
    ]
    if args.precision:
        cli_args += ["--trainer.precision", args.precision]
    cli_args += args.overrides
    return LSTMMnistCLI(LSTMClassifier, MNISTDataModule, args=cli_args, run=False)


def through_the_project(cli: LSTMMnistCLI, hand: "HandLoop", interleave: int) -> dict:
    """(a): the CLI's own fit, with the hand loop (b) run in turns inside it; their times."""
    clock = InterleavedClock(hand, interleave)
    clock.attach(cli.model)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    samples = len(cli.datamodule.train_set)
    train, epoch = clock.train_seconds[1:], clock.epoch_seconds[1:]  # epoch 0 warms up
    return {
        "samples": samples,
        "train_s": statistics.median(train),
        "epoch_s": statistics.median(epoch),
        "all_train_s": train,
        "turns": [pair for turns in clock.turns[1:] for pair in turns],
    }


def bootstrap_interval(samples: list, statistic, draws: int = 2000) -> tuple[float, float]:
    """95% bootstrap interval of statistic(samples): samples resampled with replacement."""
    rng = random.Random(0)
    values = sorted(statistic(rng.choices(samples, k=len(samples))) for _ in range(draws))
    return values[int(0.025 * draws)], values[int(0.975 * draws) - 1]


def ratio_interval(turns: list[tuple[float, float]]) -> dict:
    """(a)/(b) throughput over the paired turns, sum(b) / sum(a), with a 95% interval.

    The interval is a bootstrap (turns resampled with replacement). It treats turns as independent:
    the machine's drifts, mostly slower than a turn, hit both loops of a turn alike, which is what
    pairing is for.
    """
    if not turns:
        return {"pairs": 0, "ratio": None, "low": None, "high": None}

    def ratio(sample):
        return sum(b for _, b in sample) / sum(a for a, _ in sample)

    low, high = bootstrap_interval(turns, ratio)
    return {"pairs": len(turns), "ratio": ratio(turns), "low": low, "high": high}


class HandLoop:
    """What (a) trains, in a minimal hand-written PyTorch loop, one epoch a call.

    The same model settings, optimizer, gradient clipping and per-batch data transform (augmentation
    included), read from the CLI's run so that any config or override applies to both.
    """

    def __init__(self, cli: LSTMMnistCLI, device: torch.device, precision: str | None) -> None:
        """Build (b) from the CLI's run: its data, model settings and optimizer."""
        data = type(cli.datamodule)(
            **constructor_args(type(cli.datamodule), cli.datamodule.hparams)
        )
        data.setup("fit")
        self.data, self.device, self.batch_size = data, device, data.batch_size
        self.images = data.train_set.images.to(device)
        self.labels = data.train_set.labels.to(device)
        self.model = type(cli.model)(**constructor_args(type(cli.model), cli.model.hparams))
        self.model.to(device)
        configured = _optimizer_of(cli.model.configure_optimizers())
        self.optimizer = type(configured)(self.model.parameters(), **configured.defaults)
        self.clip = cli.trainer.gradient_clip_val
        self.bf16 = precision == "bf16-mixed"
        self.seconds: list[float] = []
        self.steps_per_epoch = 0  # of the last finished epoch

    def start_epoch(self) -> None:
        """Shuffle and start an epoch of (b)."""
        order = torch.randperm(len(self.labels), device=self.device)
        self._batches = iter(order.split(self.batch_size))
        self._elapsed, self._steps = 0.0, 0

    def steps(self, count: int | None) -> float:
        """Train the next ``count`` steps of this epoch (None: all that are left); their seconds."""
        start = time.perf_counter()
        for batch in itertools.islice(self._batches, count):
            images, labels = self.gather(batch)
            sequences = self.data.to_sequences(images, augment=True)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                loss = F.cross_entropy(self.model(sequences), labels)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.clip:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
            self.optimizer.step()
            self._steps += 1
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        self._elapsed += seconds
        return seconds

    def gather(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch's images and labels, cut as the data module cuts them."""
        return self.images.index_select(0, batch), self.labels.index_select(0, batch)

    def finish_epoch(self) -> None:
        """Train what is left of (b)'s epoch and record its seconds."""
        self.steps(None)
        self.seconds.append(self._elapsed)
        self.steps_per_epoch = self._steps


def _optimizer_of(configured) -> torch.optim.Optimizer:
    """The optimizer in whatever configure_optimizers returned (alone, in a list or a dict)."""
    if isinstance(configured, torch.optim.Optimizer):
        return configured
    if isinstance(configured, dict):
        return configured["optimizer"]
    return _optimizer_of(configured[0])


class TestAccuracyClock(Callback):
    """Training wall time (validation included, as shipped) until a test accuracy.

    The test set is scored after each epoch, off the clock, and the fit stops at the target.
    """

    def __init__(self, target: float, images: torch.Tensor, labels: torch.Tensor) -> None:
        """Stop the fit at ``target`` test accuracy, scored on these images."""
        self.target, self.images, self.labels = target, images, labels
        self.elapsed, self.history = 0.0, []

    @override
    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    @override
    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.elapsed += time.perf_counter() - self._start
        data = trainer.datamodule
        with torch.inference_mode():
            parts = self.images.split(1000)
            preds = torch.cat([probabilities(pl_module, data, p) for p in parts]).argmax(-1)
        accuracy = (preds == self.labels).float().mean().item()
        self.history.append(
            {
                "epoch": trainer.current_epoch,
                "seconds": round(self.elapsed, 1),
                "test_acc": round(accuracy, 4),
            }
        )
        if accuracy >= self.target:
            trainer.should_stop = True


def time_to_accuracy(args, workdir: Path) -> dict:
    """One fit with the shipped config until test accuracy >= args.time_to."""
    cli_args = [
        "--config",
        str(args.config),
        "--data.data_dir",
        str(args.data_dir),
        "--trainer.default_root_dir",
        str(workdir),
        "--trainer.enable_progress_bar",
        "false",
        *args.overrides,
    ]
    cli = LSTMMnistCLI(LSTMClassifier, MNISTDataModule, args=cli_args, run=False)
    cli.datamodule.setup("test")
    test = cli.datamodule.test_set
    clock = TestAccuracyClock(args.time_to, test.images, test.labels)
    cli.trainer.callbacks.append(clock)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    reached = next((h for h in clock.history if h["test_acc"] >= args.time_to), None)
    return {"target": args.time_to, "reached": reached, "history": clock.history}


@torch.inference_mode()
def inference(hand: HandLoop, repeats: int) -> dict:
    """(c): seconds to classify the test set, the median of ``repeats`` passes."""
    data = hand.data
    data.setup("test")
    images = data.test_set.images.to(hand.device)
    model = hand.model.eval()
    seconds = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        for batch in images.split(1000):
            model(data.to_sequences(batch)).argmax(-1)
        if hand.device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return {"samples": len(images), "seconds": statistics.median(seconds[1:])}


def main() -> None:
    """Parse the options, run (a), (b) and (c), print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT.parent / "shared/datasets")
    parser.add_argument("--config", type=Path, default=PROJECT_ROOT / "configs/default.yaml")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs after one warm-up")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--interleave", type=int, default=20, help="(a) and (b) take turns every this many steps"
    )
    parser.add_argument("--accelerator", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--precision", default=None, help="e.g. bf16-mixed (GPU)")
    parser.add_argument(
        "--progress-bar", action="store_true", help="keep the per-step progress bar in (a)"
    )
    parser.add_argument(
        "--time-to", type=float, help="instead: time a fit until test accuracy >= this (0.985)"
    )
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument(
        "overrides", nargs="*", help="LightningCLI arguments for (a) after --: -- --trainer.x y"
    )
    args = parser.parse_args()
    # As `lstm-mnist` does at start; set here for both loops (they share this process).
    print(f"process settings applied (src/lstm_mnist/tuning.py): {tune_process()}")
    device = torch.device("cuda" if args.accelerator == "gpu" else "cpu")
    if args.time_to:
        with tempfile.TemporaryDirectory() as workdir:
            result = time_to_accuracy(args, Path(workdir))
        for row in result["history"]:
            print(f"epoch {row['epoch']}: {row['seconds']} s, test accuracy {row['test_acc']}")
        reached = result["reached"]
        print(
            f"\ntime to {args.time_to} test accuracy: "
            + (f"{reached['seconds']} s (epoch {reached['epoch']})" if reached else "not reached")
        )
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
        return

    with tempfile.TemporaryDirectory() as workdir:
        cli = project_cli(args, Path(workdir))
        hand = HandLoop(cli, device, args.precision)
        project = through_the_project(cli, hand, args.interleave)
    epochs = hand.seconds[1:]  # epoch 0 warms up
    loop = {
        "samples": len(hand.labels),
        "train_s": statistics.median(epochs),
        "all_train_s": epochs,
        "steps_per_epoch": hand.steps_per_epoch,
        "optimizer": type(hand.optimizer).__name__,
        "gradient_clip_val": hand.clip,
    }
    infer = inference(hand, args.repeats)
    medians_ratio = loop["train_s"] / project["train_s"]
    paired = ratio_interval(project["turns"])
    report = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
        "interleave": args.interleave,
        "precision": args.precision or "32",
        "project": project,
        "hand_loop": loop,
        "inference": infer,
        # the paired turns' ratio; the ratio of the median epochs when there are too few steps
        "project_over_hand_loop": paired["ratio"] if paired["pairs"] else medians_ratio,
        "turn_pairs": paired,
        "medians_ratio": medians_ratio,
        "progress_bar": args.progress_bar,
        "lstm_kernels": lstm_kernels(device),
    }
    print(
        f"\ntorch {torch.__version__}, {report['device']}, {report['threads']} threads, batch "
        f"{args.batch_size}, precision {report['precision']}, medians of {args.repeats}"
    )
    print("| measurement | seconds | samples/s |\n|---|---|---|")
    rows = [
        ("(a) Trainer.fit, training batches", project["train_s"], project["samples"]),
        ("(a) Trainer.fit, whole epoch incl. validation", project["epoch_s"], project["samples"]),
        ("(b) hand-written loop, training", loop["train_s"], loop["samples"]),
        (f"(c) inference, {infer['samples']:,} test images", infer["seconds"], infer["samples"]),
    ]
    for name, seconds, samples in rows:
        print(f"| {name} | {seconds:.2f} | {samples / seconds:,.0f} |")
    print(f"\n(a)/(b) training throughput: {report['project_over_hand_loop']:.3f}x", end="")
    if paired["pairs"]:
        print(
            f", 95% interval {paired['low']:.3f}-{paired['high']:.3f} "
            f"({paired['pairs']} paired turns of {args.interleave} steps)",
            end="",
        )
    each = [b / a for a, b in zip(project["all_train_s"], loop["all_train_s"], strict=True)]
    print(f"\nthe median epochs' ratio: {medians_ratio:.2f}x; each epoch's:", end=" ")
    print(", ".join(f"{r:.2f}" for r in each))
    print(f"LSTM kernels: {', '.join(report['lstm_kernels'])}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
