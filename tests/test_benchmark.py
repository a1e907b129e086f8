import json
import math
import subprocess
import sys

import pytest

from tests.helpers import PROJECT_ROOT

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
    assert numbers["project"]["train_s"] > 0
    assert hand["train_s"] > 0
    # (b) ran one epoch, in turns with (a), for each of (a)'s timed epochs
    assert len(hand["all_train_s"]) == len(numbers["project"]["all_train_s"]) == 1
    assert hand["steps_per_epoch"] == math.ceil(hand["samples"] / numbers["batch_size"])
    # one pair of turns per 3 steps (--interleave 3) of the timed epoch, and an interval around it
    turns = numbers["turn_pairs"]
    assert turns["pairs"] == hand["steps_per_epoch"] // 3
    assert 0 < turns["low"] <= turns["ratio"] <= turns["high"]
    assert "(a)/(b) training throughput" in result.stdout


def test_the_foreign_set_is_made_and_scored_by_name(tmp_path):
    # Keeps benchmarks/foreign_digits.py runnable (results/robust-foreign.md); fonts are optional,
    # so the drawn digits alone are made here, one per class.
    folder = tmp_path / "foreign"
    made = [sys.executable, "benchmarks/foreign_digits.py", "make", "--out", str(folder)]
    made += ["--per-font", "0", "--drawn", "1"]
    result = subprocess.run(made, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(list(folder.glob("*.png"))) == 10
    table = tmp_path / "scores.md"
    scored = [sys.executable, "benchmarks/foreign_digits.py", "score", "--out", str(folder)]
    scored += ["--ckpt_path", "pretrained", "--name", "in the box", "--markdown", str(table)]
    result = subprocess.run(scored, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    (row,) = [line for line in table.read_text().splitlines() if line.startswith("| in the box |")]
    assert row.split(" | ")[1].endswith("%")
