"""Where Trainer.fit's extra time per step goes: the parts both loops share, timed in each.

    python benchmarks/parts.py --data-dir ../shared/datasets

Runs benchmarks/speed.py's (a) Trainer.fit and (b) hand-written loop, interleaved as there, with
timers around the parts of a training step that both run: the batch gather, its scaling into
sequences, the LSTM's forward, the backward pass and the optimizer's arithmetic. Prints
microseconds per training step for each loop (means over the timed epochs, after one warm-up)
and how many times per training step each timer ran (1: it timed training work only; fit's
validation, which runs the same forward and scaling under no_grad, is left out);
"the rest" is what the parts leave: in (a), Lightning's loop, hooks, callbacks and logging, in
(b) a few lines of Python. (A sampling profiler such as py-spy attributes part of (a)'s rest to
the kernels around it; timers do not.)
"""

import argparse
import collections
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from speed import PROJECT_ROOT, HandLoop, project_cli, through_the_project

from lstm_mnist.malloc import keep_freed_memory
from lstm_mnist.nvml import skip_nvml_check_without_driver

warnings.filterwarnings("ignore", message=r"LightningCLI's args parameter is intended")
PARTS = ["batch gather", "to_sequences", "LSTM forward", "backward", "optimizer arithmetic"]
SECONDS = {"a": collections.Counter(), "b": collections.Counter()}
CALLS = {"a": collections.Counter(), "b": collections.Counter()}
RUNNING = ["a"]  # the loop running now: (b) runs its turns inside (a)'s hooks
TRAINING = [lambda: True]  # instrument() makes it "(a)'s trainer is in its training stage"


def timed(part: str, function, loop: str | None = None):
    """function, timed into SECONDS[loop][part] while a training step runs; loop None:
    whichever loop is running. Not in fit's validation: Lightning runs it under no_grad, not
    inference mode (it has to, in fit), through the same forward and scaling, so a check for
    inference mode alone would charge (a) with ~40 validation batches an epoch."""

    def wrapper(*args, **kwargs):
        if not TRAINING[0]() or torch.is_inference_mode_enabled():
            return function(*args, **kwargs)
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            SECONDS[loop or RUNNING[0]][part] += time.perf_counter() - start
            CALLS[loop or RUNNING[0]][part] += 1

    return wrapper


def instrument(cli, hand: HandLoop) -> None:
    TRAINING[0] = lambda: cli.trainer.training  # (b) runs inside (a)'s training stage
    cli.datamodule.setup("fit")  # Lightning's setup keeps this train_set (it is only made once)
    train_set = cli.datamodule.train_set
    train_set.__getitems__ = timed("batch gather", train_set.__getitems__, "a")
    hand.gather = timed("batch gather", hand.gather, "b")
    for loop, data, model in (("a", cli.datamodule, cli.model), ("b", hand.data, hand.model)):
        data.to_sequences = timed("to_sequences", data.to_sequences, loop)
        model.lstm.forward = timed("LSTM forward", model.lstm.forward, loop)
    torch.Tensor.backward = timed("backward", torch.Tensor.backward)
    _time_optimizer_arithmetic(hand.optimizer)  # (a) has the same class, from the config
    _run_turns_of_b_as_b(hand)
    _forget_the_warm_up_epoch(hand)


def _time_optimizer_arithmetic(optimizer: torch.optim.Optimizer) -> None:
    """The functional kernels in the optimizer's module (e.g. rmsprop._single_tensor_rmsprop),
    which its step() looks up at every call: the arithmetic, without the closure (forward and
    backward) that Lightning runs inside step()."""
    module = sys.modules[type(optimizer).__module__]
    for name in dir(module):
        if name.startswith(("_single_tensor_", "_multi_tensor_", "_fused_")):
            setattr(module, name, timed("optimizer arithmetic", getattr(module, name)))


def _run_turns_of_b_as_b(hand: HandLoop) -> None:
    steps = hand.steps

    def steps_of_b(count):
        RUNNING[0] = "b"
        try:
            return steps(count)
        finally:
            RUNNING[0] = "a"

    hand.steps = steps_of_b


def _forget_the_warm_up_epoch(hand: HandLoop) -> None:
    start_epoch, epochs = hand.start_epoch, []

    def start_epoch_after_warm_up():
        epochs.append(1)
        if len(epochs) == 2:  # epoch 1 starts: drop what epoch 0 (the warm-up) timed
            for counter in (*SECONDS.values(), *CALLS.values()):
                counter.clear()
        start_epoch()

    hand.start_epoch = start_epoch_after_warm_up


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT.parent / "shared/datasets")
    parser.add_argument("--config", type=Path, default=PROJECT_ROOT / "configs/default.yaml")
    parser.add_argument("--repeats", type=int, default=2, help="timed epochs after one warm-up")
    parser.add_argument("--interleave", type=int, default=20)
    parser.add_argument("--val-size", type=int, default=5000, help="the data module's val_size")
    args = parser.parse_args()
    args.batch_size, args.accelerator, args.precision = 128, "cpu", None
    args.progress_bar, args.overrides = False, ["--data.val_size", str(args.val_size)]
    keep_freed_memory()
    skip_nvml_check_without_driver()
    with tempfile.TemporaryDirectory() as workdir:
        cli = project_cli(args, Path(workdir))
        hand = HandLoop(cli, torch.device("cpu"), None)
        instrument(cli, hand)
        project = through_the_project(cli, hand, args.interleave)
    steps = hand.steps_per_epoch * args.repeats
    step = {"a": sum(project["all_train_s"]), "b": sum(hand.seconds[1:])}
    print(f"\n{steps} training steps per loop")
    print("| part | (a) us per step | (b) us per step | (a) calls per step | (b) calls per step |")
    print("|---|---|---|---|---|")
    for part in PARTS:
        a, b = (1e6 * SECONDS[loop][part] / steps for loop in "ab")
        calls_a, calls_b = (CALLS[loop][part] / steps for loop in "ab")
        print(f"| {part} | {a:.0f} | {b:.0f} | {calls_a:.2f} | {calls_b:.2f} |")
    rest = {loop: step[loop] - sum(SECONDS[loop].values()) for loop in "ab"}
    print(f"| the rest | {1e6 * rest['a'] / steps:.0f} | {1e6 * rest['b'] / steps:.0f} | | |")
    print(f"| whole step | {1e6 * step['a'] / steps:.0f} | {1e6 * step['b'] / steps:.0f} | | |")


if __name__ == "__main__":
    main()
