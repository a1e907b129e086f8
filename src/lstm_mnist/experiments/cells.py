"""One cell of a grid: a fit of one setting with one seed, in a folder of its own, and its record.

A cell is ``<out_dir>/runs/<grid>/<setting>_seed<n>/``: the fit's run (``lightning_logs/version_0``
with its config.yaml, TensorBoard events and checkpoints, tested after fit) and ``cell.yaml``,
which the cell writes as it starts (status running) and as it ends (done, with its scores, or
failed, with the error). The tables are gathered from those files alone, wherever the cell ran:
a local process or a SLURM array task. Cells running at once never share a folder.

Like scripts/slurm/train.sbatch, a cell restarted by SLURM (a requeue) continues its own run from
its newest checkpoint (``--ckpt_path last``: runs/run.py's rules), and a first start never
continues another: it starts its folder anew.
"""

import datetime
import os
import platform
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import torch
import yaml

from lstm_mnist.cli import run_cli
from lstm_mnist.cli.checks import one_line
from lstm_mnist.experiments.grid import PROJECT, Setting
from lstm_mnist.runs.run import Run

CELL_FILE = "cell.yaml"


def cell_name(setting: Setting, seed: int) -> str:
    """The cell's folder name, from its setting and seed: ``bidirectional_elastic_16_seed3``."""
    return f"{re.sub(r'[^A-Za-z0-9.]+', '_', setting.name).strip('_')}_seed{seed}"


def cell_folder(out_dir: str | Path, grid: str, setting: Setting, seed: int) -> Path:
    """Where a cell's run and record live."""
    return Path(out_dir).absolute() / "runs" / grid / cell_name(setting, seed)


def fit_args(setting: Setting, seed: int, data_dir: str, folder: Path) -> list[str]:
    """The cell's fit, tested after fit: what ``--print_commands`` prints after lstm-mnist."""
    return [
        "fit",
        *setting.args(),
        *("--seed_everything", str(seed), "--data.data_dir", str(data_dir)),
        *("--data.download", "false", "--test_after_fit", "true"),
        *("--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(folder)),
    ]


def run_cell(grid: str, setting: Setting, seed: int, data_dir: str, out_dir: str, threads: int):
    """Fit and test one cell in this process, its record written as it starts and as it ends."""
    torch.set_num_threads(threads)
    folder = cell_folder(out_dir, grid, setting, seed)
    restarts = int(os.environ.get("SLURM_RESTART_COUNT") or 0)
    resume = restarts > 0 and bool(Run.all_under(folder, requeued=True))
    if not resume:  # a first start never continues another
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    record = {"grid": grid, "setting": setting.name, "seed": seed, "status": "running"}
    record.update(started=_now(), host=socket.gethostname(), job=_slurm_job(), restarts=restarts)
    write_record(folder, record)
    start = time.perf_counter()
    try:
        cli = run_cli(
            fit_args(setting, seed, data_dir, folder) + (["--ckpt_path", "last"] * resume)
        )
    except BaseException as err:  # KeyboardInterrupt and SystemExit too: the record says so
        write_record(folder, {**record, "status": "failed", "error": _why(err)})
        raise
    trainer = cli.trainer
    scores = {
        "test_acc": round(float(trainer.callback_metrics["test/acc"]), 4),
        "best_val_acc": round(float(trainer.checkpoint_callback.best_model_score), 4),
        "epochs": trainer.current_epoch,  # after fit: the number of epochs trained
        "parameters": sum(p.numel() for p in cli.model.parameters()),
        "threads": threads,
        "seconds": round(time.perf_counter() - start),  # of this start: after a requeue, its part
        "overrides": setting.command,
        "scored": "at fit",
        "machine": machine(trainer.strategy.root_device),
        "date": datetime.date.today().isoformat(),
        "commit": commit(),
    }
    write_record(folder, {**record, "status": "done", "finished": _now(), **scores})
    return scores


def read_record(folder: Path) -> dict | None:
    """A cell's record, or None where it has not started (or its record is being written)."""
    try:
        record = yaml.safe_load((folder / CELL_FILE).read_text())
    except (OSError, yaml.YAMLError):
        return None
    return record if isinstance(record, dict) else None


def write_record(folder: Path, record: dict) -> None:
    """Write the record whole or not at all (a reader never sees half a file)."""
    partial = folder / f".{CELL_FILE}.tmp"
    partial.write_text(yaml.safe_dump(record, sort_keys=False))
    partial.replace(folder / CELL_FILE)


def machine(device: torch.device) -> str:
    """What a run ran on, for the tables: CPU model and cores, or the GPU; and torch."""
    if device.type == "cuda":
        where = torch.cuda.get_device_name(device)
    else:
        cpu = platform.processor() or platform.machine()
        cpuinfo = Path("/proc/cpuinfo")
        if cpuinfo.is_file():
            names = re.findall(r"model name\s*:\s*(.+)", cpuinfo.read_text())
            cpu = names[0].strip() if names else cpu
        where = f"{os.cpu_count()}-core {cpu}, no GPU used"
    return f"{where}; torch {torch.__version__}"


def commit() -> str:
    """The project's commit that ran, ``+`` if its source or configs had changes; or unknown."""
    git = ["git", "-C", str(PROJECT)]
    try:
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        )
        changed = subprocess.run(
            [*git, "status", "--porcelain", "--", "src", "configs"], capture_output=True, text=True
        )
    except OSError:
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + ("+" if changed.stdout.strip() else "")


def _now() -> str:
    return datetime.datetime.now().isoformat(timespec="seconds")


def _slurm_job() -> str | None:
    array = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array:
        return f"{array}_{os.environ.get('SLURM_ARRAY_TASK_ID')}"
    return os.environ.get("SLURM_JOB_ID")


def _why(err: BaseException) -> str:
    if isinstance(err, KeyboardInterrupt):
        return "interrupted"
    if isinstance(err, SystemExit):
        return f"exited {err.code}"
    why = one_line(f"{type(err).__name__}: {err}")
    return why if len(why) <= 1000 else f"{why[:1000]}..."  # whole: it says what to do
