"""A grid as a SLURM job array on the real one-node SLURM: each cell a task, the tables gathered."""

import json
import re
import subprocess
from pathlib import Path

import pytest
import torch
import yaml

from tests.helpers import assert_one_line_error, in_process, lstm_mnist
from tests.slurm_cluster import finished, wait_for

pytestmark = pytest.mark.xdist_group("slurm")  # one cluster, its fixed ports, one worker

TINY = {"data.val_size": 50, "data.batch_size": 25, "trainer.log_every_n_steps": 1}
EPOCHS = 8  # the first cell's: long enough to requeue it in the middle
STEPS_PER_EPOCH = 10  # (300 - 50) / 25


def grid_file(folder: Path) -> Path:
    grid = {
        "config": "default.yaml",
        "settings": [
            {"name": "default", "overrides": {**TINY, "trainer.max_epochs": EPOCHS}},
            {
                "name": "pad_width 14",
                "overrides": {**TINY, "data.pad_width": 14, "trainer.max_epochs": 2},
            },
        ],
    }
    path = folder / "tiny.yaml"
    path.write_text(yaml.safe_dump(grid, sort_keys=False))
    return path


def experiments(
    env, cwd: Path, grid: Path, seeds: list[int], *options, capsys=None
) -> subprocess.CompletedProcess:
    """The runner through the installed script; with ``capsys``, the same in this process."""
    args = [
        "experiments",
        "--grid",
        grid,
        "--seeds",
        json.dumps(seeds),
        "--out_dir",
        cwd / "results",
    ]
    if capsys is not None:  # a door the script already walked in this test: ~5 s sooner
        return in_process(*args, *options, cwd=cwd, capsys=capsys)
    return lstm_mnist(*args, *options, cwd=cwd, timeout=120, SLURM_CONF=env["SLURM_CONF"])


def last_epoch(cell: Path) -> int:
    lasts = list(cell.glob("lightning_logs/*/checkpoints/last.ckpt"))
    try:
        return torch.load(lasts[0], map_location="cpu", weights_only=True)["epoch"] if lasts else -1
    except Exception:  # being written
        return -1


def test_a_grid_runs_as_a_job_array_and_is_gathered_from_what_its_tasks_wrote(
    slurm, tiny_data_dir, tmp_path, capsys, monkeypatch
):
    grid = grid_file(tmp_path)
    array_options = ["--slurm", "true", "--throttle", "2", "--sbatch", '["--cpus-per-task=1"]']
    submitted = experiments(
        slurm, tmp_path, grid, [0, 1], "--data_dir", tiny_data_dir, *array_options
    )
    assert submitted.returncode == 0, submitted.stderr[-3000:]
    (array,) = re.findall(r"submitted job array (\d+): 4 cells", submitted.stdout)
    cells = tmp_path / "results" / "runs" / "tiny"
    first = cells / "default_seed0"
    wait_for(lambda: last_epoch(first) >= 1, 150, "the first cell's first checkpoints")
    subprocess.run(["scontrol", "requeue", f"{array}_0"], env=slurm, check=True)
    for task in range(4):
        fields = finished(slurm, f"{array}_{task}", timeout=240)
        log = (tmp_path / f"slurm-{array}_{task}.out").read_text()
        assert fields["JobState"] == "COMPLETED", log[-3000:]
    # the requeued task continued its own run: one run folder, every step once
    record = yaml.safe_load((first / "cell.yaml").read_text())
    assert (record["status"], record["restarts"], record["job"]) == ("done", 1, f"{array}_0")
    (run,) = (first / "lightning_logs").iterdir()
    last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert (last["epoch"], last["global_step"]) == (EPOCHS - 1, EPOCHS * STEPS_PER_EPOCH)
    # gather: the four runs in the table, twice the same
    gathered = experiments(slurm, tmp_path, grid, [0, 1], "--gather", "true")
    assert gathered.returncode == 0, gathered.stderr[-3000:]
    table = (tmp_path / "results" / "tiny.md").read_text()
    for setting in ("default", "pad_width 14"):
        (row,) = [line for line in table.splitlines() if line.startswith(f"| {setting} |")]
        assert row.split(" | ")[2] == "2", row  # runs: both seeds
    assert "Not in the table" not in table
    monkeypatch.setenv("SLURM_CONF", slurm["SLURM_CONF"])  # for the runs in this process
    experiments(slurm, tmp_path, grid, [0, 1], "--gather", "true", capsys=capsys)
    assert (tmp_path / "results" / "tiny.md").read_text() == table
    # a task that fails (its data folder holds nothing) is named, never counted
    empty = tmp_path / "empty"
    empty.mkdir()
    again = experiments(slurm, tmp_path, grid, [2], "--settings", '["default"]', "--data_dir",
                        empty, "--slurm", "true", capsys=capsys)  # fmt: skip
    (failing,) = re.findall(r"submitted job array (\d+): 1 cells", again.stdout)
    assert finished(slurm, f"{failing}_0", timeout=120)["JobState"] == "FAILED"
    result = experiments(slurm, tmp_path, grid, [0, 1, 2], "--settings", '["default"]', "--gather",
                         "true")  # fmt: skip
    assert_one_line_error(result, "1 of 3 cells are not finished")
    assert "not finished: tiny: default, seed 2: failed (" in result.stderr
    table = (tmp_path / "results" / "tiny.md").read_text()
    assert "- default, seed 2: failed (" in table
    assert "| pad_width 14 |" in table  # the rows of the cells not gathered stay
