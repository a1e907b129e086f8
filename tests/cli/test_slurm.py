"""scripts/slurm/train.sbatch under a real SLURM: Debian's slurm-wlm, one node on localhost.

The cluster is started by the fixture (munged, slurmctld and slurmd in the foreground, their
state in a temporary folder) and stopped after the module; packages are installed first where
they are missing and the machine can (root, apt-get). Jobs run exactly as a user submits them.
"""

import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.helpers import PROJECT_ROOT, TINY_TRAIN
from tests.slurm_cluster import finished, wait_for

pytestmark = pytest.mark.xdist_group("slurm")  # one cluster, its fixed ports, one worker

SCRIPT = PROJECT_ROOT / "scripts" / "slurm" / "train.sbatch"
VAL, BATCH = 50, 25
STEPS_PER_EPOCH = -(-(TINY_TRAIN - VAL) // BATCH)  # 10


def submit(env, cwd: Path, data_dir: Path, sbatch: list[str], epochs: int) -> str:
    command = ["sbatch", "--parsable", "--gpus-per-node=0", "--cpus-per-task=1", *sbatch, SCRIPT]
    command += ["--config", PROJECT_ROOT / "configs" / "padded.yaml", "--data.data_dir", data_dir]
    command += ["--data.val_size", str(VAL), "--data.batch_size", str(BATCH)]
    command += ["--trainer.accelerator", "cpu", "--trainer.max_epochs", str(epochs)]
    command += ["--trainer.enable_progress_bar", "false", "--trainer.log_every_n_steps", "1"]
    command = list(map(str, command))
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().split(";")[0]


def run_of(cwd: Path, job_id: str) -> Path:
    (run,) = (cwd / "runs" / f"slurm-{job_id}" / "lightning_logs").iterdir()  # one run folder
    return run


def last_epoch(cwd: Path, job_id: str) -> int:
    lasts = list((cwd / "runs" / f"slurm-{job_id}").glob("lightning_logs/*/checkpoints/last.ckpt"))
    if not lasts:
        return -1
    try:
        return torch.load(lasts[0], map_location="cpu", weights_only=True)["epoch"]
    except Exception:  # being written
        return -1


def assert_one_continuous_run(cwd: Path, job_id: str, epochs: int) -> None:
    run = run_of(cwd, job_id)
    checkpoints = sorted(path.name for path in (run / "checkpoints").iterdir())
    assert checkpoints.count("last.ckpt") == 1, checkpoints
    assert len(checkpoints) == 2, checkpoints
    last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["epoch"] == epochs - 1
    assert last["global_step"] == epochs * STEPS_PER_EPOCH
    events = EventAccumulator(str(run)).Reload()
    for tag, count in (("train/loss", epochs * STEPS_PER_EPOCH), ("val/acc", epochs)):
        steps = [event.step for event in events.Scalars(tag)]
        assert len(steps) == len(set(steps)) == count, (tag, steps)  # each step drawn once


@pytest.mark.parametrize("how", ["scontrol requeue", "SIGUSR1"])
def test_a_requeued_job_resumes_its_own_run(how, slurm, tiny_data_dir, tmp_path):
    epochs = 12
    job_id = submit(slurm, tmp_path, tiny_data_dir, ["--ntasks-per-node=1"], epochs=epochs)
    wait_for(lambda: last_epoch(tmp_path, job_id) >= 1, 120, "the first checkpoints")
    if how == "SIGUSR1":  # what --signal=SIGUSR1@90 sends before the time limit
        subprocess.run(["scancel", "--signal=USR1", job_id], env=slurm, check=True)
    else:
        subprocess.run(["scontrol", "requeue", job_id], env=slurm, check=True)
    fields = finished(slurm, job_id, timeout=240)
    log = (tmp_path / f"slurm-{job_id}.out").read_text()
    assert fields["JobState"] == "COMPLETED", log[-3000:]
    assert fields["Restarts"] == "1", log[-3000:]
    assert "restart 1: resuming from" in log, log[-3000:]
    if how == "SIGUSR1":
        assert list((tmp_path / "runs" / f"slurm-{job_id}").glob("hpc_ckpt_*.ckpt"))
    assert_one_continuous_run(tmp_path, job_id, epochs=epochs)


def test_two_tasks_are_one_ddp_run(slurm, tiny_data_dir, tmp_path):
    job_id = submit(slurm, tmp_path, tiny_data_dir, ["--ntasks-per-node=2"], epochs=2)
    fields = finished(slurm, job_id)
    log = (tmp_path / f"slurm-{job_id}.out").read_text()
    assert fields["JobState"] == "COMPLETED", log[-3000:]
    assert "GLOBAL_RANK: 0" in log
    assert "GLOBAL_RANK: 1" in log
    run = run_of(tmp_path, job_id)
    last = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert last["global_step"] == 2 * -(-(TINY_TRAIN - VAL) // (2 * BATCH))  # each rank half


def test_a_cpu_job_completes_and_a_first_start_never_continues_an_old_run(
    slurm, tiny_data_dir, tmp_path
):
    first = submit(slurm, tmp_path, tiny_data_dir, ["--ntasks-per-node=1"], epochs=2)
    fields = finished(slurm, first)
    log = (tmp_path / f"slurm-{first}.out").read_text()
    assert fields["JobState"] == "COMPLETED", log[-3000:]
    assert fields["Restarts"] == "0", log[-3000:]
    assert "Traceback" not in log
    assert_one_continuous_run(tmp_path, first, epochs=2)
    # Job ids start again on a rebuilt cluster: a stale folder of the same id is refused.
    stale = tmp_path / "runs" / f"slurm-{int(first) + 1}"
    shutil.copytree(tmp_path / "runs" / f"slurm-{first}", stale)
    second = submit(slurm, tmp_path, tiny_data_dir, ["--ntasks-per-node=1"], epochs=1)
    assert second == str(int(first) + 1)
    fields = finished(slurm, second)
    log = (tmp_path / f"slurm-{second}.out").read_text()
    assert fields["JobState"] == "FAILED", log
    assert f"error: {Path('runs') / stale.name}" in log, log
