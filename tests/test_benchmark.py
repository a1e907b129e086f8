import argparse
import json
import math
import re
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

TINY = ["--data.val_size", "50"]


@pytest.mark.parametrize(
    ("config", "overrides", "optimizer", "clip"),
    [
        ("configs/default.yaml", TINY, "RMSprop", None),
        ("configs/best.yaml", [*TINY, "--lr_scheduler.T_max", "2"], "Adam", 1.0),
    ],
)
def test_the_speed_benchmark_runs_and_mirrors_the_config(
    config, overrides, optimizer, clip, tiny_data_dir, tmp_path
):
    # No test judges its numbers; this one keeps the benchmark runnable and (b) faithful to (a).
    report = tmp_path / "speed.json"
    command = [sys.executable, "benchmarks/speed.py", "--data-dir", str(tiny_data_dir)]
    command += ["--config", config, "--repeats", "1", "--interleave", "3", "--batch-size", "32"]
    command += ["--json", str(report)]
    command += ["--", *overrides]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    numbers = json.loads(report.read_text())
    hand = numbers["hand_loop"]
    assert (hand["optimizer"], hand["gradient_clip_val"]) == (optimizer, clip)
    assert numbers["project"]["train_s"] > 0 and hand["train_s"] > 0
    # (b) ran one epoch, in turns with (a), for each of (a)'s timed epochs
    assert len(hand["all_train_s"]) == len(numbers["project"]["all_train_s"]) == 1
    assert hand["steps_per_epoch"] == math.ceil(hand["samples"] / numbers["batch_size"])
    # one pair of turns per 3 steps (--interleave 3) of the timed epoch, and an interval around it
    turns = numbers["turn_pairs"]
    assert turns["pairs"] == hand["steps_per_epoch"] // 3
    assert 0 < turns["low"] <= turns["ratio"] <= turns["high"]
    assert "(a)/(b) training throughput" in result.stdout


def test_the_micro_benchmark_runs():
    command = [sys.executable, "benchmarks/micro.py", "--calls-scale", "0.02"]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| gather 128 uint8 images, index_select |" in result.stdout


def test_the_overhead_benchmark_runs(tiny_data_dir):
    command = [sys.executable, "benchmarks/overhead.py", "--data-dir", str(tiny_data_dir)]
    command += ["--epochs", "2", "--rounds", "1", "--val-size", "50"]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    loops = [line.split("|")[2].strip() for line in result.stdout.splitlines()[2:]]
    assert loops == ["hand", "bare", "shipped", "manual"]


def test_the_in_situ_benchmark_runs(tiny_data_dir):
    command = [sys.executable, "benchmarks/in_situ.py", "--data-dir", str(tiny_data_dir)]
    command += ["--val-size", "50"]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line.split("|")[1:3] for line in result.stdout.splitlines() if line.startswith("| ")]
    timed = {name.strip(): float(value) for name, value in rows[1:]}
    assert set(timed) == {
        "accuracy update, every step",
        "accuracy + loss log, shipped",
        "callback dispatch",
        "ModelCheckpoint.state_key",
        "LightningModule hooks left empty",
    }
    assert all(value > 0 for value in timed.values()), timed  # each wrapper was reached


def test_the_parts_benchmark_times_every_part_in_both_loops(tiny_data_dir):
    command = [sys.executable, "benchmarks/parts.py", "--data-dir", str(tiny_data_dir)]
    command += ["--repeats", "1", "--interleave", "3", "--val-size", "50"]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line.split("|")[1:6] for line in result.stdout.splitlines() if line.startswith("| ")]
    timed = {name.strip(): (float(a), float(b)) for name, a, b, _, _ in rows[1:]}
    assert list(timed) == [
        "batch gather",
        "to_sequences",
        "LSTM forward",
        "backward",
        "optimizer arithmetic",
        "the rest",
        "whole step",
    ]
    # each timer was reached (the message lists them all: pytest would cut a dict short)
    unreached = [name for name, (a, b) in timed.items() if not (a > 0 and b > 0)]
    assert not unreached, f"{unreached} not above 0 in both loops: {timed}"
    # ... once per training step in both loops: fit's validation (forward and scaling under
    # no_grad) is not charged to (a)'s training parts
    calls = {name.strip(): (a.strip(), b.strip()) for name, _, _, a, b in rows[1:6]}
    assert all(counts == ("1.00", "1.00") for counts in calls.values()), calls


def test_the_toggle_benchmark_times_both_states(tiny_data_dir):
    command = [sys.executable, "benchmarks/toggle.py", "--data-dir", str(tiny_data_dir)]
    command += ["--change", "manual", "--repeats", "1", "--every", "2", "--batch-size", "16"]
    command += ["--val-size", "50"]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line.split("|")[1:4] for line in result.stdout.splitlines() if line.startswith("| ")]
    steps = {state.strip(): int(count) for state, count, _ in rows[1:]}
    assert set(steps) == {"off (as shipped)", "on"} and min(steps.values()) >= 3, steps
    pairs = re.search(r"saving per step: .* \((\d+) pairs of 2-step blocks\)", result.stdout)
    assert pairs and int(pairs[1]) >= 3, result.stdout[-1000:]


def test_each_toggle_takes_effect_and_undoes_itself(tiny_data_dir, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(PROJECT_ROOT / "benchmarks"))
    from lightning.pytorch.callbacks import ModelCheckpoint, ModelSummary
    from lightning.pytorch.profilers import PassThroughProfiler
    from speed import project_cli
    from toggle import SWITCHES

    args = argparse.Namespace(
        config=PROJECT_ROOT / "configs/default.yaml",
        data_dir=tiny_data_dir,
        batch_size=16,
        repeats=1,
        accelerator="cpu",
        progress_bar=False,
        precision=None,
        overrides=["--data.val_size", "50"],
    )
    cli = project_cli(args, tmp_path)
    checkpoint = next(cb for cb in cli.trainer.callbacks if isinstance(cb, ModelCheckpoint))
    effects = {  # what each change does, seen from outside
        "lightning-profiler": lambda: type(cli.trainer.profiler) is PassThroughProfiler,
        "state-key": lambda: checkpoint.state_key is checkpoint.state_key,  # computed once
        "callbacks": lambda: not any(isinstance(cb, ModelSummary) for cb in cli.trainer.callbacks),
        "all-callbacks": lambda: not cli.trainer.callbacks,
        "manual": lambda: not cli.model.automatic_optimization,
    }
    assert set(effects) == set(SWITCHES)
    for change, make_switch in SWITCHES.items():
        switch = make_switch(cli)
        assert not effects[change](), change
        switch(True)
        assert effects[change](), change
        switch(False)
        assert not effects[change](), change
