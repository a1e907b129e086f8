"""``lstm-mnist experiments --grid reproduction``: config x seed grids -> results/.

Each cell is a full ``fit`` with ``--test_after_fit`` through the same CLI a user runs; the
test accuracy of the best-val checkpoint is collected. The grid writes ``results/<grid>.csv``
(one row per run) and ``results/<grid>.md`` (mean +- std per setting, the seed's numbers beside).
It runs from any folder (the configs are found in the project) and writes to ``--out_dir``.
"""

import csv
import datetime
import json
import multiprocessing
import os
import platform
import re
import shutil
import statistics
import tempfile
import time
import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Literal

import torch

from lstm_mnist.cli.main import run_cli
from lstm_mnist.core.errors import OptionError

# The runner hands the CLI its arguments while having command-line arguments of its own.
warnings.filterwarnings("ignore", message=r"LightningCLI's args parameter is intended")

# The grids name the configs as the tables print them; a run finds them in the project (an
# editable install's checkout), so the runner works from any folder.
DEFAULT, PADDED, BEST = "configs/default.yaml", "configs/padded.yaml", "configs/best.yaml"
PIXELS, GPU = "configs/pixels.yaml", "configs/trainer/gpu.yaml"
PROJECT = Path(__file__).resolve().parents[3]
# The seed's Keras results (one run each) beside the settings that repeat or improve on them.
SEED_RESULTS = {
    "reproduction": {"default": 0.9856, "padded": 0.9839},
    "padding": {"pad_width 0": 0.9856, "pad_width 14": 0.9839},
    "scan": {"rows": 0.9856},
    "best": {"best recipe": 0.9856},
}
# Pixel sequences are 784 steps long, 28x the rows' steps: on one CPU thread a training step
# takes ~3 s (rows: ~12 ms). Their cells train on a fifth of each epoch (11,000 images), 3 epochs,
# validating on a fifth of the validation set: ~15 minutes a run, not the ~11 hours of 30 epochs.
SHORT = ["--trainer.limit_train_batches", "0.2", "--trainer.limit_val_batches", "0.2"]
SHORT += ["--trainer.max_epochs", "3"]
SHORT_COSINE = ["--lr_scheduler.T_max", "3"]
# configs/pixels.yaml's one LSTM(128) layer (oneDNN) takes ~1.1 s a training step on one thread
# here: 6 full epochs (2,580 steps), validated on a tenth of the validation set, ~57 minutes a
# run; the GPU grid trains the same recipe for its 40 epochs.
PIXELS_CPU = ["--trainer.limit_val_batches", "0.1"]
PIXELS_CPU += ["--trainer.max_epochs", "6", "--lr_scheduler.T_max", "6"]

SEED_OPTIMIZER = [
    "--optimizer=torch.optim.RMSprop",
    "--optimizer.lr=0.001",
    "--lr_scheduler=lightning.pytorch.cli.ReduceLROnPlateau",
    "--lr_scheduler.monitor=val/acc",
    "--lr_scheduler.mode=max",
    "--lr_scheduler.factor=0.5",
    "--lr_scheduler.patience=2",
]
NO_AUGMENTATION = ["--data.max_shift", "0", "--data.max_rotation", "0"]
SEED_SHAPE = ["--model.hidden_size", "32", "--model.num_layers", "3"]
EPOCHS_20 = ["--trainer.max_epochs", "20", "--lr_scheduler.T_max", "20"]
# Lightning's EMA callback: validation, and so the checkpoint picked, use the averaged weights.
EMA = ["--trainer.callbacks+=EMAWeightAveraging", "--trainer.callbacks.decay=0.999"]
# Nearer SWA: the average starts halfway (epoch 20 of 40 at 430 steps an epoch) and spans ~12
# epochs (1 / (1 - decay) = 5,000 steps), so it averages the cosine's low-lr half.
EMA_LATE = ["--trainer.callbacks+=EMAWeightAveraging", "--trainer.callbacks.decay=0.9998"]
EMA_LATE += ["--trainer.callbacks.update_starting_at_step=8600"]
# SWA averages weights that still move: the cosine stops at a tenth of the rate instead of 0.
LR_FLOOR = ["--lr_scheduler.eta_min", "0.0003"]
# The same over 80 epochs: from epoch 40 (step 17,200), over ~23 epochs (10,000 steps).
EMA_LATE_80 = ["--trainer.callbacks+=EMAWeightAveraging", "--trainer.callbacks.decay=0.9999"]
EMA_LATE_80 += ["--trainer.callbacks.update_starting_at_step=17200"]
# Two directions per layer within the budget: 25,066 parameters.
BIDIRECTIONAL = ["--model.bidirectional", "true", "--model.hidden_size", "24"]
FASHION = ["--data.dataset", "fashion_mnist"]
ELASTIC_16 = ["--data.elastic_alpha", "16"]
ERASING = ["--data.erase_probability", "0.5"]  # Zhong et al.'s (2017) rate
# An LSTM(16) reads each row's pixels, the stack each row beside its summary: 26,230 parameters.
HIERARCHICAL = ["--model.row_hidden_size", "16", "--model.hidden_size", "38"]
# A wider row summary, a narrower stack: 25,492 parameters.
HIERARCHICAL_24 = ["--model.row_hidden_size", "24", "--model.hidden_size", "35"]
SMOOTHING = ["--model.label_smoothing", "0.1"]
EPOCHS_80 = ["--trainer.max_epochs", "80", "--lr_scheduler.T_max", "80"]
EPOCHS_160 = ["--trainer.max_epochs", "160", "--lr_scheduler.T_max", "160"]
# Test-time augmentation: the after-fit test also reads each image moved by one pixel in 8
# directions and averages the answers (fit's validation, and so the checkpoint, are unchanged).
TTA_8 = ["--data.test_time_shifts", "8"]
SHIFT_1_ROTATION_5 = ["--data.max_shift", "1", "--data.max_rotation", "5"]

GRIDS: dict[str, list[tuple[str, list[str]]]] = {
    "reproduction": [("default", ["--config", DEFAULT]), ("padded", ["--config", PADDED])],
    "padding": [
        (f"pad_width {width}", ["--config", DEFAULT, "--data.pad_width", str(width)])
        for width in (0, 14, 28, 56)
    ],
    "scan": [
        ("rows", ["--config", DEFAULT]),
        ("columns", ["--config", DEFAULT, "--data.scan", "columns"]),
        ("pixels", ["--config", DEFAULT, "--data.scan", "pixels", *SHORT]),
        ("permuted", ["--config", DEFAULT, "--data.scan", "permuted", *SHORT]),
    ],
    "fashion": [
        ("seed model", ["--config", DEFAULT, *FASHION]),
        ("best recipe", ["--config", BEST, *FASHION]),
        ("best recipe + label smoothing 0.1", ["--config", BEST, *FASHION, *SMOOTHING]),
        ("best recipe, bidirectional 2 x LSTM(24)", ["--config", BEST, *FASHION, *BIDIRECTIONAL]),
        ("best recipe, shifts only", ["--config", BEST, *FASHION, "--data.max_rotation", "0"]),
        (
            "best recipe, one LSTM(64)",
            ["--config", BEST, *FASHION, "--model.num_layers", "1", "--model.hidden_size", "64"],
        ),
        ("best recipe + mirroring", ["--config", BEST, *FASHION, "--data.horizontal_flip", "true"]),
        (
            "best recipe + mirroring, bidirectional 2 x LSTM(24)",
            ["--config", BEST, *FASHION, "--data.horizontal_flip", "true", *BIDIRECTIONAL],
        ),
        ("best recipe + random erasing 0.5", ["--config", BEST, *FASHION, *ERASING]),
        (
            "best recipe, hierarchical: LSTM(16) per row",
            ["--config", BEST, *FASHION, *HIERARCHICAL],
        ),
        (
            "best recipe, hierarchical: LSTM(24) per row, 2 x LSTM(35)",
            ["--config", BEST, *FASHION, *HIERARCHICAL_24],
        ),
        # With augmentation the model underfits Fashion-MNIST (docs/experiments.md): less
        # regularisation, a gradient to every row, more epochs.
        ("best recipe, no augmentation", ["--config", BEST, *FASHION, *NO_AUGMENTATION]),
        ("best recipe + mean readout", ["--config", BEST, *FASHION, "--model.readout", "mean"]),
        ("best recipe, 80 epochs", ["--config", BEST, *FASHION, *EPOCHS_80]),
        ("best recipe, 160 epochs", ["--config", BEST, *FASHION, *EPOCHS_160]),
        (
            "best recipe, hierarchical: LSTM(16) per row, 80 epochs",
            ["--config", BEST, *FASHION, *HIERARCHICAL, *EPOCHS_80],
        ),
        (
            "best recipe, no augmentation, 80 epochs",
            ["--config", BEST, *FASHION, *NO_AUGMENTATION, *EPOCHS_80],
        ),
        (
            "best recipe, 80 epochs, lr floor 3e-4",
            ["--config", BEST, *FASHION, *EPOCHS_80, *LR_FLOOR],
        ),
        (
            "best recipe, 80 epochs, lr floor 3e-4 + EMA over the second half",
            ["--config", BEST, *FASHION, *EPOCHS_80, *LR_FLOOR, *EMA_LATE_80],
        ),
        (
            "best recipe, 80 epochs + label smoothing 0.1",
            ["--config", BEST, *FASHION, *EPOCHS_80, *SMOOTHING],
        ),
        (
            "best recipe, 80 epochs, read by columns",
            ["--config", BEST, *FASHION, *EPOCHS_80, "--data.scan", "columns"],
        ),
        (
            "best recipe, bidirectional 2 x LSTM(24), 80 epochs",
            ["--config", BEST, *FASHION, *BIDIRECTIONAL, *EPOCHS_80],
        ),
        (
            "best recipe, 80 epochs, shift 1 and rotation 5",
            ["--config", BEST, *FASHION, *EPOCHS_80, *SHIFT_1_ROTATION_5],
        ),
        (
            "best recipe, 80 epochs, shift 1 and rotation 5 + test-time shifts",
            ["--config", BEST, *FASHION, *EPOCHS_80, *SHIFT_1_ROTATION_5, *TTA_8],
        ),
        (
            "best recipe, bidirectional 2 x LSTM(24), 80 epochs + test-time shifts",
            ["--config", BEST, *FASHION, *BIDIRECTIONAL, *EPOCHS_80, *TTA_8],
        ),
        (
            "best recipe, 80 epochs + test-time shifts",
            ["--config", BEST, *FASHION, *EPOCHS_80, *TTA_8],
        ),
    ],
    # The 784-step scans again, trained with the best recipe (cosine over the 3 short epochs);
    # then with configs/pixels.yaml, 6 epochs on a CPU (PIXELS_CPU) and in full on a GPU.
    "pixels": [
        (f"{scan}, best recipe", ["--config", BEST, "--data.scan", scan, *SHORT, *SHORT_COSINE])
        for scan in ("pixels", "permuted")
    ],
    "pixels-cpu": [
        (f"{scan}, pixels.yaml, 6 epochs", ["--config", PIXELS, "--data.scan", scan, *PIXELS_CPU])
        for scan in ("pixels", "permuted")
    ],
    "pixels-gpu": [
        (f"{scan}, pixels.yaml", ["--config", PIXELS, "--config", GPU, "--data.scan", scan])
        for scan in ("pixels", "permuted")
    ],
    "best": [("best recipe", ["--config", BEST])],
    # Each lever taken out of (or added to) the best recipe, one at a time.
    "levers": [
        ("best recipe", ["--config", BEST]),
        ("no augmentation", ["--config", BEST, *NO_AUGMENTATION]),
        ("PyTorch init", ["--config", BEST, "--model.init", "pytorch"]),
        ("no standardisation", ["--config", BEST, "--data.normalization", "scale"]),
        ("no clipping", ["--config", BEST, "--trainer.gradient_clip_val", "null"]),
        ("seed optimiser: RMSprop + plateau", ["--config", BEST, *SEED_OPTIMIZER]),
        ("seed shape: 3 x LSTM(32)", ["--config", BEST, *SEED_SHAPE]),
        ("dropout 0.2", ["--config", BEST, "--model.dropout", "0.2"]),
        ("batch 256", ["--config", BEST, "--data.batch_size", "256"]),
        ("20 epochs", ["--config", BEST, *EPOCHS_20]),
    ],
    # Levers not in the best recipe, added one at a time, toward 99.5% (issue "Records").
    "record": [
        ("best + mean readout", ["--config", BEST, "--model.readout", "mean"]),
        ("best + label smoothing 0.1", ["--config", BEST, *SMOOTHING]),
        ("best + both", ["--config", BEST, "--model.readout", "mean", *SMOOTHING]),
        ("best, 80 epochs", ["--config", BEST, *EPOCHS_80]),
        (
            "best, 80 epochs, shift 3 and rotation 15",
            ["--config", BEST, *EPOCHS_80, "--data.max_shift", "3", "--data.max_rotation", "15"],
        ),
        ("best + EMA of the weights (decay 0.999)", ["--config", BEST, *EMA]),
        ("best, bidirectional 2 x LSTM(24)", ["--config", BEST, *BIDIRECTIONAL]),
        ("bidirectional + label smoothing 0.1", ["--config", BEST, *BIDIRECTIONAL, *SMOOTHING]),
        (
            "bidirectional 3 x LSTM(18)",
            [
                "--config",
                BEST,
                *BIDIRECTIONAL,
                "--model.hidden_size",
                "18",
                "--model.num_layers",
                "3",
            ],
        ),
        ("bidirectional, 80 epochs", ["--config", BEST, *BIDIRECTIONAL, *EPOCHS_80]),
        *(
            (
                f"bidirectional + elastic distortion, alpha {alpha}",
                ["--config", BEST, *BIDIRECTIONAL, "--data.elastic_alpha", str(alpha)],
            )
            for alpha in (8, 16, 34)
        ),
        (
            "bidirectional + elastic 16 + random erasing 0.5",
            ["--config", BEST, *BIDIRECTIONAL, *ELASTIC_16, *ERASING],
        ),
        ("best, hierarchical: LSTM(16) per row, 2 x LSTM(38)", ["--config", BEST, *HIERARCHICAL]),
        (
            "bidirectional + EMA over the second half (decay 0.9998)",
            ["--config", BEST, *BIDIRECTIONAL, *EMA_LATE],
        ),
        (
            "bidirectional + elastic 16 + EMA over the second half",
            ["--config", BEST, *BIDIRECTIONAL, *ELASTIC_16, *EMA_LATE],
        ),
        (
            "bidirectional + elastic 16 + EMA over the second half, lr floor 3e-4",
            ["--config", BEST, *BIDIRECTIONAL, *ELASTIC_16, *EMA_LATE, *LR_FLOOR],
        ),
        (
            "bidirectional + elastic 16 + EMA (decay 0.9999) over the second half, lr floor 3e-4",
            [
                "--config",
                BEST,
                *BIDIRECTIONAL,
                *ELASTIC_16,
                *EMA_LATE,
                "--trainer.callbacks.decay=0.9999",
                *LR_FLOOR,
            ],
        ),
        ("best + test-time shifts", ["--config", BEST, *TTA_8]),
        (
            "bidirectional + elastic 16 + test-time shifts",
            ["--config", BEST, *BIDIRECTIONAL, *ELASTIC_16, *TTA_8],
        ),
        (
            "bidirectional + elastic 16 + test-time shifts, 80 epochs",
            ["--config", BEST, *BIDIRECTIONAL, *ELASTIC_16, *TTA_8, *EPOCHS_80],
        ),
    ],
}
RESCORED_NOTE = (
    "\nRows whose `scored` column (in the CSV) says re-scored: test and val accuracy measured "
    "again with `--rescore true` on the best checkpoint the fit picked (README, Experiments)."
)
Grid = Literal[
    "reproduction",
    "padding",
    "scan",
    "pixels",
    "pixels-cpu",
    "pixels-gpu",
    "fashion",
    "best",
    "levers",
    "record",
]


def run_grid(
    grid: Grid = "reproduction",
    seeds: list[int] | None = None,
    data_dir: str = "data",
    out_dir: str = "results",
    workers: int = 1,
    render_only: bool = False,
    rescore: bool = False,
    settings: list[str] | None = None,
) -> None:
    """Run every setting of a grid with every seed, then write the CSV and the Markdown table.

    Args:
        grid: ``reproduction`` (default vs padded), ``padding`` (0/14/28/56 zeros per row),
            ``scan`` (rows, columns, pixels, permuted), ``pixels`` (the pixel scans with the
            best recipe, short), ``pixels-cpu`` (configs/pixels.yaml for 6 epochs, CPU-sized),
            ``pixels-gpu`` (configs/pixels.yaml in full, on a GPU), ``fashion``, ``best``
            (configs/best.yaml), ``levers`` (the best recipe with one lever changed at a time) or
            ``record`` (levers the best recipe lacks, added one at a time).
        seeds: Global seeds (``seed_everything``); default 0 1 2.
        data_dir: Folder holding ``MNIST/raw`` (and ``FashionMNIST/raw``).
        out_dir: Where ``<grid>.csv``, ``<grid>.md`` and the runs' ``lightning_logs/<grid>/`` go.
        workers: Runs at a time, each in its own process with cores / workers threads. A 25k-
            parameter LSTM uses a second core poorly, so 2 single-thread runs on 2 cores finish
            a grid sooner than 1 run with 2 threads.
        render_only: Run nothing: rewrite ``<grid>.md`` from the runs in ``<grid>.csv``.
        rescore: Train nothing: test and validate each run's best checkpoint again with the
            current code (after a fix to a metric), then rewrite ``<grid>.csv`` and ``.md``.
        settings: Run only these settings of the grid (names as its table prints them); the
            rows already in ``<grid>.csv`` for other settings or other seeds are kept (more
            seeds for one setting: ``--settings '[name]' --seeds '[3, 4]'``).
    """
    out = Path(out_dir)
    if render_only or rescore:
        rows = _read_csv(out / f"{grid}.csv")
        if rescore:
            rows = [_rescore(grid, row, data_dir, out) for row in rows]
            _write_csv(rows, out / f"{grid}.csv")
        (out / f"{grid}.md").write_text(markdown_table(grid, rows))
        return
    threads = max(1, torch.get_num_threads() // workers)
    names = [name for name, _ in GRIDS[grid]]
    unknown = sorted(set(settings or []) - set(names))
    if unknown:
        raise OptionError(f"grid {grid} has no setting {unknown[0]!r}; its settings: {names}")
    cells = [
        (name, args, seed)
        for name, args in GRIDS[grid]
        if settings is None or name in settings
        for seed in (seeds if seeds is not None else [0, 1, 2])
    ]
    jobs = [(grid, name, args, seed, data_dir, out, threads) for name, args, seed in cells]
    rows = []
    for (name, _, seed), result in zip(cells, _results(jobs, workers), strict=True):
        rows.append({"setting": name, "seed": seed, **result})
        print(f"{grid}: {name}, seed {seed}: test acc {rows[-1]['test_acc']:.4f}", flush=True)
    if settings is not None and (out / f"{grid}.csv").is_file():
        rerun = {(name, str(seed)) for name, _, seed in cells}
        kept = [
            row
            for row in _read_csv(out / f"{grid}.csv")
            if (row["setting"], str(row["seed"])) not in rerun
        ]
        order = {name: index for index, name in enumerate(names)}
        rows = sorted(
            kept + rows,
            key=lambda row: (order.get(row["setting"], len(names)), int(row["seed"])),
        )
    _write_csv(rows, out / f"{grid}.csv")
    (out / f"{grid}.md").write_text(markdown_table(grid, rows))
    print(f"wrote {out / f'{grid}.csv'} and {out / f'{grid}.md'}")


def _results(jobs: list[tuple], workers: int) -> Iterator[dict]:
    """Each job's result in order, as it finishes; the pool closes before the grid returns."""
    if workers == 1:
        yield from (_fit_and_test(*job) for job in jobs)
        return
    # spawn: a fork would copy this process's torch thread pools. The with-block shuts the pool
    # down here: left to exit, its wake-up pipe can be closed first and print a traceback.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from pool.map(_fit_and_test, *zip(*jobs, strict=True))


def _fit_and_test(
    grid: str, name: str, args: list[str], seed: int, data_dir: str, out: Path, threads: int
) -> dict:
    torch.set_num_threads(threads)
    version = _version(name, seed)
    shutil.rmtree(out / "lightning_logs" / grid / version, ignore_errors=True)
    start = time.perf_counter()
    cli = run_cli(
        [
            "fit",
            *_in_project(args),
            "--seed_everything",
            str(seed),
            "--data.data_dir",
            data_dir,
            "--data.download",
            "false",
            "--test_after_fit",
            "true",
            "--trainer.enable_progress_bar",
            "false",
            "--trainer.logger",
            _logger(out / "lightning_logs", grid, version),
        ]
    )
    trainer = cli.trainer
    return {
        "test_acc": round(float(trainer.callback_metrics["test/acc"]), 4),
        "best_val_acc": round(float(trainer.checkpoint_callback.best_model_score), 4),
        "epochs": trainer.current_epoch,  # after fit: the number of epochs trained
        "parameters": sum(p.numel() for p in cli.model.parameters()),
        "threads": threads,
        "seconds": round(time.perf_counter() - start),
        "overrides": " ".join(args),
        "scored": "at fit",
        "machine": machine(cli.trainer.strategy.root_device),
        "date": datetime.date.today().isoformat(),
    }


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


def _in_project(args: list[str]) -> list[str]:
    """The grid's arguments with its config paths made absolute (relative to the project)."""
    return [str(PROJECT / arg) if arg.startswith("configs/") else arg for arg in args]


def _logger(save_dir: Path, grid: str, version: str) -> str:
    """The project's TensorBoard logger, in one folder per grid and cell."""
    init = {"save_dir": str(save_dir), "name": grid, "version": version}
    spec = {"class_path": "lstm_mnist.cli.logger.RunLogger", "init_args": init}
    return json.dumps({**spec, "init_args": {**init, "default_hp_metric": False}})


def _version(name: str, seed: int) -> str:
    # One log folder per cell, named after it (concurrent runs cannot race for version_N).
    return f"{re.sub(r'[^A-Za-z0-9.]+', '_', name).strip('_')}_seed{seed}"


def _rescore(grid: str, row: dict, data_dir: str, out: Path) -> dict:
    """The run's best checkpoint tested and validated again; training columns are kept."""
    folder = out / "lightning_logs" / grid / _version(row["setting"], int(row["seed"]))
    best = [path for path in folder.glob("checkpoints/*.ckpt") if path.name != "last.ckpt"]
    if len(best) != 1:
        raise FileNotFoundError(
            f"expected one best checkpoint in {folder}/checkpoints, found {len(best)}: "
            f"rerun the grid (without rescore) to make them"
        )
    args = dict(GRIDS[grid])[row["setting"]]
    scores = {}
    for subcommand, metric in (("test", "test/acc"), ("validate", "val/acc")):
        with tempfile.TemporaryDirectory() as workdir:  # no logs, no config.yaml in the cwd
            cli = run_cli(
                [subcommand, *_in_project(args), "--ckpt_path", str(best[0])]
                + ["--data.data_dir", data_dir]
                + ["--data.download", "false", "--trainer.enable_progress_bar", "false"]
                + ["--trainer.logger", "false", "--trainer.default_root_dir", workdir]
            )
        scores[metric] = round(float(cli.trainer.callback_metrics[metric]), 4)
    print(
        f"{grid}: {row['setting']}, seed {row['seed']}: test acc {row['test_acc']} -> "
        f"{scores['test/acc']}",
        flush=True,
    )
    return {
        **row,
        "test_acc": scores["test/acc"],
        "best_val_acc": scores["val/acc"],
        "scored": f"re-scored from {best[0].name}",
    }


def markdown_table(grid: str, rows: list[dict]) -> str:
    """A grid's runs as one Markdown row per setting: mean +- std over its seeds."""
    lines = [
        f"# {grid}\n",
        "| setting | test accuracy, mean +- std | runs | seeds' accuracies "
        "| parameters | epochs | seconds per run | seed (Keras) | overrides |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for setting in dict.fromkeys(row["setting"] for row in rows):
        runs = [row for row in rows if row["setting"] == setting]
        accs = [100 * row["test_acc"] for row in runs]
        spread = f" +- {statistics.stdev(accs):.2f}" if len(accs) > 1 else ""  # none from 1 run
        seed = SEED_RESULTS.get(grid, {}).get(setting)
        lines.append(
            f"| {setting} | {statistics.mean(accs):.2f}{spread}% | {len(runs)} "
            f"| {', '.join(f'{a:.2f}' for a in accs)} | {runs[0]['parameters']:,} "
            f"| {runs[0]['epochs']} | {statistics.mean(r['seconds'] for r in runs):.0f} "
            f"| {f'{100 * seed:.2f}%' if seed else '-'} | `{runs[0]['overrides']}` |"
        )
    if any(row.get("scored", "at fit") != "at fit" for row in rows):
        lines.append(RESCORED_NOTE)
    lines += _machines(rows)
    return "\n".join(lines) + "\n"


def _machines(rows: list[dict]) -> list[str]:
    """Where the runs ran, naming the settings when not every row ran there (older rows lack it)."""
    ran: dict[str, list[str]] = {}
    for row in rows:
        if row.get("machine"):
            ran.setdefault(f"{row['machine']} ({row['date']})", []).append(row["setting"])
    if not ran:
        return []
    if len(ran) == 1 and all(row.get("machine") for row in rows):
        return [f"\nRan on: {next(iter(ran))}."]
    names = {where: ", ".join(f"`{n}`" for n in dict.fromkeys(s)) for where, s in ran.items()}
    return [f"\nRan on: {where}: {settings}." for where, settings in names.items()]


def _read_csv(path: Path) -> list[dict]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run the grid first (without render_only)")
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    for row in rows:
        # seconds are whole (round() at the run); older CSVs wrote them as 662.0
        row["test_acc"], row["seconds"] = float(row["test_acc"]), round(float(row["seconds"]))
        row["parameters"] = int(row["parameters"])
    return rows


def _write_csv(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as file:
        # rows from older runs may lack newer columns (machine, date)
        fields = list(dict.fromkeys(key for row in rows for key in row))
        writer = csv.DictWriter(file, fieldnames=fields, restval="")
        writer.writeheader()
        writer.writerows(rows)
