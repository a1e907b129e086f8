import json
import math
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
    command += ["--config", config, "--repeats", "1", "--interleave", "3", "--json", str(report)]
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
    rows = [line.split("|")[1:4] for line in result.stdout.splitlines() if line.startswith("| ")]
    timed = {name.strip(): (float(a), float(b)) for name, a, b in rows[1:]}
    assert list(timed) == [
        "batch gather",
        "to_sequences",
        "LSTM forward",
        "backward",
        "optimizer arithmetic",
        "the rest",
        "whole step",
    ]
    assert all(a > 0 and b > 0 for a, b in timed.values()), timed  # each timer was reached
