"""Paired A/B of small changes to Trainer.fit, inside one fit: is a saving real?

    python benchmarks/toggle.py --data-dir ../shared/datasets --change state-key
    python benchmarks/toggle.py --data-dir ../shared/datasets --change state-key callbacks manual

One fit through the CLI with a shipped config (as benchmarks/speed.py's (a)) switches the
changes (together) on and off every --every steps and times each step (start to start) in
either state. Both states share each epoch, so the machine's drifts, often larger here than the
saving sought, hit both alike. Prints the median step in each state, and the saving: the mean
over neighbouring pairs of blocks (one on, one off) of their median steps' difference, with a
95% bootstrap interval. The changes (README "Performance"):
  lightning-profiler  Lightning's default PassThroughProfiler, whose profile() builds a
             generator context manager at every hook call (~70 a step), in place of the CLI's
             NoProfiler (src/lstm_mnist/profiler.py): the saving comes out negative, the cost
             the CLI avoids
  state-key  ModelCheckpoint.state_key, a repr of its settings built at every callback call for
             the profiler's label, computed once per checkpoint callback
  callbacks  the callbacks that only act at fit start (model summary, config saver) taken out of
             the list the Trainer calls at every hook
  all-callbacks  every callback taken out of that list, checkpoints and learning-rate monitor
             too: not a change to ship (nothing would be saved), but the most that any callback
             work, or its dispatch, could cost
  manual     Lightning's manual optimization: the step calls zero_grad, manual_backward and
             step itself, without the automatic loop's closure (and without gradient clipping:
             use a config without it, such as the default)
"""

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from lightning.pytorch.callbacks import ModelCheckpoint, ModelSummary
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.profilers import PassThroughProfiler
from speed import PROJECT_ROOT, bootstrap_interval, project_cli

from lstm_mnist.malloc import keep_freed_memory
from lstm_mnist.nvml import skip_nvml_check_without_driver

warnings.filterwarnings("ignore", message=r"LightningCLI's args parameter is intended")


def lightning_profiler_switch(cli):
    shipped, lightning = cli.trainer.profiler, PassThroughProfiler()

    def switch(on: bool) -> None:
        cli.trainer.profiler = lightning if on else shipped

    return switch


def state_key_switch(cli):
    lightning_key = vars(ModelCheckpoint)["state_key"]  # the property ModelCheckpoint defines

    def cached(self) -> str:
        if "_cached_state_key" not in vars(self):
            self._cached_state_key = lightning_key.fget(self)
        return self._cached_state_key

    def switch(on: bool) -> None:
        ModelCheckpoint.state_key = property(cached) if on else lightning_key

    return switch


def callbacks_switch(cli):
    return _callbacks_kept(cli, lambda cb: not isinstance(cb, (ModelSummary, SaveConfigCallback)))


def all_callbacks_switch(cli):
    return _callbacks_kept(cli, lambda cb: False)


def _callbacks_kept(cli, keep):
    """A switch that, when on, leaves the Trainer only the callbacks that keep(callback) accepts."""
    every = list(cli.trainer.callbacks)
    kept = [cb for cb in every if keep(cb)]

    def switch(on: bool) -> None:
        cli.trainer.callbacks = list(kept if on else every)

    return switch


def manual_switch(cli):
    model, automatic_step = cli.model, cli.model.training_step

    def training_step(batch, batch_idx: int):
        loss = automatic_step(batch, batch_idx)
        if model.automatic_optimization:
            return loss
        optimizer = model.optimizers()
        optimizer.zero_grad()
        model.manual_backward(loss)
        optimizer.step()
        return None

    model.training_step = training_step

    def switch(on: bool) -> None:
        # Lightning reads the flag at every step to choose its loop
        model.automatic_optimization = not on

    return switch


SWITCHES = {
    "lightning-profiler": lightning_profiler_switch,
    "state-key": state_key_switch,
    "callbacks": callbacks_switch,
    "all-callbacks": all_callbacks_switch,
    "manual": manual_switch,
}


Block = tuple[int, bool, list[float]]  # epoch, change on, the block's step times (s)


def timed_blocks(cli, switch, every: int) -> list[Block]:
    """Step times in blocks of `every` steps, the change switched at each block's start. Epoch 0
    (warm-up) and each epoch's first step (it follows validation) are left out."""
    blocks: list[Block] = []
    state = {"on": False, "last": 0.0}
    model, own_hook = cli.model, cli.model.on_train_batch_start

    def on_train_batch_start(batch, batch_idx: int):
        now = time.perf_counter()
        epoch = cli.trainer.current_epoch
        if batch_idx > 0 and epoch > 0:
            blocks[-1][2].append(now - state["last"])
        if batch_idx % every == 0:
            state["on"] = not state["on"]
            switch(state["on"])
            blocks.append((epoch, state["on"], []))
        state["last"] = time.perf_counter()  # the switch itself is off the clock
        return own_hook(batch, batch_idx)

    model.on_train_batch_start = on_train_batch_start
    try:
        cli.trainer.fit(model, datamodule=cli.datamodule)
    finally:
        switch(False)
    return blocks


def paired_savings(blocks: list[Block]) -> list[float]:
    """Per pair of neighbouring blocks (same epoch, one off, one on): the median step off minus
    the median step on. Medians, because a few steps in each block run far slower than the rest
    on a busy machine (the 95th percentile of steps here is ~1.7x the 5th)."""
    savings, index = [], 0
    while index + 1 < len(blocks):
        (epoch, on, times), (next_epoch, _, next_times) = blocks[index], blocks[index + 1]
        if epoch != next_epoch or not times or not next_times:
            index += 1  # an epoch's last block, or one without timed steps: no partner
            continue
        off_times, on_times = (next_times, times) if on else (times, next_times)
        savings.append(statistics.median(off_times) - statistics.median(on_times))
        index += 2
    return savings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--change", choices=sorted(SWITCHES), nargs="+", required=True)
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT.parent / "shared/datasets")
    parser.add_argument("--config", type=Path, default=PROJECT_ROOT / "configs/default.yaml")
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs after one warm-up")
    parser.add_argument("--every", type=int, default=10, help="steps between switches")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--val-size", type=int, default=5000, help="the data module's val_size")
    args = parser.parse_args()
    args.accelerator, args.precision = "cpu", None
    args.progress_bar, args.overrides = False, ["--data.val_size", str(args.val_size)]
    keep_freed_memory()
    skip_nvml_check_without_driver()
    with tempfile.TemporaryDirectory() as workdir:
        cli = project_cli(args, Path(workdir))
        switches = [SWITCHES[change](cli) for change in args.change]
        blocks = timed_blocks(cli, lambda on: [switch(on) for switch in switches], args.every)
    print(f"\n| {' + '.join(args.change)} | steps | median step, us |\n|---|---|---|")
    for on, label in ((False, "off (as shipped)"), (True, "on")):
        steps = [step for _, block_on, times in blocks if block_on == on for step in times]
        print(f"| {label} | {len(steps)} | {1e6 * statistics.median(steps):.0f} |")
    savings = paired_savings(blocks)
    low, high = bootstrap_interval(savings, statistics.mean)
    print(
        f"\nsaving per step: {1e6 * statistics.mean(savings):.0f} us, 95% interval "
        f"{1e6 * low:.0f} to {1e6 * high:.0f} ({len(savings)} pairs of {args.every}-step blocks)"
    )


if __name__ == "__main__":
    main()
