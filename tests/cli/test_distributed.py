"""DDP on CPU with gloo, torchrun across two 'nodes' on localhost, resume and failure handling.

Every subprocess runs under a timeout, so that a hang fails the test instead of stalling CI.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import torch

from lstm_mnist.core.data import MNISTDataModule
from tests.helpers import PROJECT_ROOT

DEFAULT = str(PROJECT_ROOT / "configs" / "default.yaml")
CPU_DDP = ["--trainer.accelerator", "cpu", "--trainer.strategy", "ddp"]
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def fit_args(data_dir, *extra) -> list[str]:
    return [
        "fit",
        "--config",
        DEFAULT,
        "--data.data_dir",
        str(data_dir),
        "--data.val_size",
        "51",
        "--data.batch_size",
        "64",
        *QUIET,
        *extra,
    ]


def module_command(*args) -> list[str]:
    return [sys.executable, "-m", "lstm_mnist", *map(str, args)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_folders(cwd: Path) -> list[Path]:
    return sorted((cwd / "lightning_logs").glob("version_*"))


def test_eval_loaders_cover_each_sample_once_across_ranks(tiny_data_dir):
    seen = []
    for rank in range(2):
        dm = MNISTDataModule(data_dir=str(tiny_data_dir), val_size=51)
        cpu = SimpleNamespace(root_device=torch.device("cpu"))
        dm.trainer = SimpleNamespace(world_size=2, global_rank=rank, strategy=cpu)
        dm.setup("fit")
        seen += list(dm.val_dataloader().sampler)
    assert sorted(seen) == list(range(51))  # 51 is odd: a padding sampler would repeat one


def test_ddp_two_processes_through_the_cli(tiny_data_dir, tmp_path):
    args = fit_args(tiny_data_dir, *CPU_DDP, "--trainer.devices", "2", "--trainer.max_epochs", "2")
    result = subprocess.run(
        module_command(*args), cwd=tmp_path, capture_output=True, text=True, timeout=240
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "GLOBAL_RANK: 0" in output
    assert "GLOBAL_RANK: 1" in output
    (run,) = run_folders(tmp_path)  # rank 0 alone writes logs, config and checkpoints
    assert (run / "config.yaml").is_file()
    assert (run / "checkpoints" / "last.ckpt").is_file()


def test_torchrun_two_nodes_on_localhost(tiny_data_dir, tmp_path):
    port = free_port()
    args = fit_args(
        tiny_data_dir,
        *CPU_DDP,
        "--trainer.devices",
        "1",
        "--trainer.num_nodes",
        "2",
        "--trainer.max_epochs",
        "1",
    )
    nodes = []
    for node_rank in (0, 1):
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nnodes",
            "2",
            "--node-rank",
            str(node_rank),
            "--nproc-per-node",
            "1",
            "--master-addr",
            "127.0.0.1",
            "--master-port",
            str(port),
            "-m",
            "lstm_mnist",
            *args,
        ]
        nodes.append(
            subprocess.Popen(
                command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
        )
    try:
        outputs = [node.communicate(timeout=240)[0] for node in nodes]
    finally:
        for node in nodes:
            node.kill()
    for node, output in zip(nodes, outputs, strict=True):
        assert node.returncode == 0, output
    assert "GLOBAL_RANK: 0" in outputs[0]
    assert "GLOBAL_RANK: 1" in outputs[1]
    (run,) = run_folders(tmp_path)
    assert [p.name for p in (run / "checkpoints").glob("*.ckpt")].count("last.ckpt") == 1


def checkpoint_epoch(path: Path) -> int:
    return torch.load(path, map_location="cpu", weights_only=False)["epoch"]


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def last_checkpoint_epoch(cwd: Path) -> int:
    runs = run_folders(cwd)
    last = runs[-1] / "checkpoints" / "last.ckpt" if runs else None
    return checkpoint_epoch(last) if last and last.is_file() else -1


def test_sigkill_mid_fit_then_resume_from_last(tiny_data_dir, tmp_path):
    args = fit_args(tiny_data_dir, "--trainer.accelerator", "cpu", "--trainer.max_epochs", "40")
    run = subprocess.Popen(
        module_command(*args), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: last_checkpoint_epoch(tmp_path) >= 2, 120, "epoch 2's checkpoint")
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
    killed_at = last_checkpoint_epoch(tmp_path)
    assert killed_at < 39, "the run finished before it was killed"

    resumed = subprocess.run(
        module_command(*args, "--ckpt_path", "last"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming from" in resumed.stdout + resumed.stderr
    (run,) = run_folders(tmp_path)  # the resumed run continues in the killed run's folder
    final = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    steps_per_epoch = -(-(300 - 51) // 64)
    assert final["epoch"] == 39
    assert final["global_step"] == 40 * steps_per_epoch
    assert len(list(run.glob("events.out.tfevents.*"))) == 2


KILL_DURING_SAVE = """
import os, signal, sys
from fsspec.implementations.local import LocalFileOpener
import lightning as L
from lstm_mnist.core.model import LSTMClassifier

def write_half_then_die(self, data):
    self.f.write(bytes(data)[: len(data) // 2])
    self.f.flush()
    os.kill(os.getpid(), signal.SIGKILL)

trainer = L.Trainer(logger=False, enable_progress_bar=False)
trainer.strategy.connect(LSTMClassifier())
trainer.save_checkpoint(sys.argv[1])
LocalFileOpener.write = write_half_then_die
trainer.save_checkpoint(sys.argv[1])
"""


def test_kill_during_checkpoint_write_keeps_the_previous_one(tmp_path):
    path = tmp_path / "last.ckpt"
    result = subprocess.run(
        [sys.executable, "-c", KILL_DURING_SAVE, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert "state_dict" in torch.load(path, map_location="cpu", weights_only=False)


def test_a_dead_rank_ends_the_whole_job(tiny_data_dir, tmp_path):
    args = fit_args(
        tiny_data_dir, *CPU_DDP, "--trainer.devices", "2", "--trainer.max_epochs", "500"
    )
    job = subprocess.Popen(
        module_command(*args), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: last_checkpoint_epoch(tmp_path) >= 1, 120, "both ranks to train")
        children = subprocess.run(["pgrep", "-P", str(job.pid)], capture_output=True, text=True)
        rank_one = int(children.stdout.split()[0])
        os.kill(rank_one, signal.SIGKILL)
        returncode = job.wait(timeout=60)  # Lightning's observer polls every 5 s
    finally:
        job.kill()
    assert returncode != 0


def test_ctrl_c_then_a_bad_resume_leave_the_run_intact(tiny_data_dir, tmp_path):
    args = fit_args(tiny_data_dir, "--trainer.accelerator", "cpu", "--trainer.max_epochs", "40")
    script = shutil.which("lstm-mnist")
    fit = subprocess.Popen(
        [script, *args[:1], *args[1:]],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        wait_for(lambda: last_checkpoint_epoch(tmp_path) >= 1, 120, "epoch 1's checkpoint")
        fit.send_signal(signal.SIGINT)  # what Ctrl-C sends
        _, stderr = fit.communicate(timeout=60)
    finally:
        fit.kill()
    assert fit.returncode != 0, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    (run,) = run_folders(tmp_path)
    saved = {path.name: path.read_bytes() for path in (run / "checkpoints").iterdir()}
    assert checkpoint_epoch(run / "checkpoints" / "last.ckpt") >= 1
    bad = subprocess.run(
        [script, *args, "--ckpt_path", "last", "--optimizer.lr", "-1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1
    assert "Traceback" not in bad.stderr
    assert {path.name: path.read_bytes() for path in (run / "checkpoints").iterdir()} == saved
    assert run_folders(tmp_path) == [run]
