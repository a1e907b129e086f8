"""``lstm-mnist experiments``: run a grid's cells (settings x seeds), then tabulate them.

A grid is a YAML file in configs/grids/ (grid.py). Each cell is a fit of one setting with one seed,
tested after fit, in a folder of its own with a record of how it went (cells.py); the tables are
gathered from those records (tables.py). The same cells run here, several processes at a time, or
on a cluster as one SLURM job array (``--slurm true``, then ``--gather true``): docs/clusters.md.
"""

import json
import multiprocessing
import shlex
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
from jsonargparse.typing import NonNegativeInt, PositiveInt

from lstm_mnist.cli import run_cli
from lstm_mnist.core.errors import LstmMnistError, OptionError
from lstm_mnist.experiments.cells import cell_folder, fit_args, run_cell
from lstm_mnist.experiments.grid import PROJECT, Grid, available
from lstm_mnist.experiments.tables import gather_cells, markdown_table, merged, read_csv, write_csv
from lstm_mnist.runs.run import Run

GRID_SCRIPT = PROJECT / "scripts" / "slurm" / "grid.sbatch"


def run_grid(
    grid: str = "reproduction",
    seeds: list[int] | None = None,
    settings: list[str] | None = None,
    data_dir: str = "data",
    out_dir: str = "results",
    workers: PositiveInt = 1,
    print_commands: bool = False,
    slurm: bool = False,
    sbatch: list[str] | None = None,
    throttle: PositiveInt | None = None,
    gather: bool = False,
    cell: NonNegativeInt | None = None,
    render_only: bool = False,
    rescore: bool = False,
) -> None:
    """Run every setting of a grid with every seed, then write its CSV and Markdown table.

    Args:
        grid: A grid of configs/grids/ (GRIDS_FOUND), or the path of a grid file.
        seeds: Global seeds (``seed_everything``); default 0 1 2.
        settings: Only these settings of the grid (names as its table prints them); the rows
            already in ``<grid>.csv`` for other settings or other seeds are kept.
        data_dir: Folder holding ``MNIST/raw`` (and ``FashionMNIST/raw``).
        out_dir: Where ``<grid>.csv``, ``<grid>.md`` and the cells' ``runs/<grid>/`` go.
        workers: Cells at a time, each in its own process with cores / workers threads. A 25k-
            parameter LSTM uses a second core poorly, so 2 single-thread runs on 2 cores finish
            a grid sooner than 1 run with 2 threads.
        print_commands: Run nothing: print each cell's fit, to run one alone.
        slurm: Submit the cells as one SLURM job array (scripts/slurm/grid.sbatch), one task
            per cell, and return; ``--gather true`` writes the tables once they finish.
        sbatch: sbatch options for the array, e.g. ``'["--partition=gpu", "--time=02:00:00",
            "--gpus-per-task=1", "--cpus-per-task=4"]'``; they override the script's.
        throttle: At most this many array tasks at once (sbatch's ``--array=...%N``).
        gather: Run nothing: write the tables from what the cells wrote, and name each cell
            still pending, running or failed.
        cell: Run only this cell (its index in settings x seeds): a SLURM array task's part.
        render_only: Run nothing: rewrite ``<grid>.md`` from the rows in ``<grid>.csv``.
        rescore: Train nothing: test and validate each run's best checkpoint again with the
            current code (after a fix to a metric), then rewrite ``<grid>.csv`` and ``.md``.
    """
    chosen = Grid.load(grid)
    out = Path(out_dir)
    if render_only or rescore:
        rows = read_csv(out / f"{chosen.name}.csv")
        if rescore:
            rows = [_rescore(chosen, row, data_dir, out) for row in rows]
            write_csv(rows, out / f"{chosen.name}.csv")
        (out / f"{chosen.name}.md").write_text(markdown_table(chosen, rows))
        return
    cells = [
        (setting, seed)
        for setting in chosen.chosen(settings)
        for seed in (seeds if seeds is not None else [0, 1, 2])
    ]
    if print_commands:
        for setting, seed in cells:
            folder = cell_folder(out, chosen.name, setting, seed)
            print(shlex.join(["lstm-mnist", *fit_args(setting, seed, data_dir, folder)]))
    elif slurm:
        _submit(
            len(cells), sbatch or [], throttle, _runner_args(grid, seeds, settings, data_dir, out)
        )
    elif cell is not None:
        if not 0 <= cell < len(cells):
            raise OptionError(f"--cell={cell} must be in [0, {len(cells) - 1}]: grid x seeds")
        threads = torch.get_num_threads()
        run_cell(chosen.name, *cells[cell], data_dir, str(out), threads)
    else:
        if not gather:
            _run_here(chosen.name, cells, data_dir, str(out), workers)
        _tabulate(chosen, cells, out)


def _tabulate(grid: Grid, cells: list[tuple], out: Path) -> None:
    """The tables from the cells' records; the unfinished cells named, here and in the table."""
    rows, unfinished = gather_cells(grid, cells, out)
    csv_file = out / f"{grid.name}.csv"
    rows = merged(grid, read_csv(csv_file) if csv_file.is_file() else [], rows, cells)
    write_csv(rows, csv_file)
    (out / f"{grid.name}.md").write_text(markdown_table(grid, rows, unfinished))
    print(f"wrote {csv_file} and {out / f'{grid.name}.md'}")
    for line in unfinished:
        print(f"not finished: {grid.name}: {line}", file=sys.stderr)
    if unfinished:
        raise LstmMnistError(f"{len(unfinished)} of {len(cells)} cells are not finished (above)")


def _run_here(grid: str, cells: list[tuple], data_dir: str, out: str, workers: int) -> None:
    """Every cell on this machine, ``workers`` at a time; a failed cell does not stop the rest."""
    threads = max(1, torch.get_num_threads() // workers)
    jobs = [(grid, setting, seed, data_dir, out, threads) for setting, seed in cells]
    if workers == 1:
        for job in jobs:
            _report(job, _cell_or_none(*job))
        return
    # spawn: a fork would copy this process's torch thread pools. The with-block shuts the pool
    # down here: left to exit, its wake-up pipe can be closed first and print a traceback.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for job, scores in zip(
            jobs, pool.map(_cell_or_none, *zip(*jobs, strict=True)), strict=True
        ):
            _report(job, scores)


def _cell_or_none(*job) -> dict | None:
    try:
        return run_cell(*job)
    except Exception:  # its record says why; the table names it
        return None


def _report(job: tuple, scores: dict | None) -> None:
    grid, setting, seed = job[:3]
    result = f"test acc {scores['test_acc']:.4f}" if scores else "failed (see the table's notes)"
    print(f"{grid}: {setting.name}, seed {seed}: {result}", flush=True)


def _runner_args(grid, seeds, settings, data_dir: str, out: Path) -> list[str]:
    """This command's grid, cells and folders for each array task, absolute: tasks run anywhere."""
    args = ["--grid", str(Path(grid).absolute()) if grid.endswith((".yaml", ".yml")) else grid]
    if seeds is not None:
        args += ["--seeds", json.dumps(seeds)]
    if settings is not None:
        args += ["--settings", json.dumps(settings)]
    return [*args, "--data_dir", str(Path(data_dir).absolute()), "--out_dir", str(out.absolute())]


def _submit(cells: int, options: list[str], throttle: int | None, args: list[str]) -> None:
    """One array task per cell: ``sbatch --array=0-<cells-1>[%throttle] [options] grid.sbatch``."""
    array = f"--array=0-{cells - 1}" + (f"%{throttle}" if throttle else "")
    command = ["sbatch", "--parsable", array, *options, str(GRID_SCRIPT), *args]
    try:
        result = subprocess.run(command, capture_output=True, text=True)
    except FileNotFoundError:
        raise LstmMnistError(
            "--slurm true: sbatch is not on this machine; run it on a login node"
        ) from None
    if result.returncode != 0:
        raise LstmMnistError(f"sbatch refused the array: {result.stderr.strip()}")
    job = result.stdout.strip().split(";")[0]
    print(
        f"submitted job array {job}: {cells} cells; when they have ended, the same command with "
        "--gather true (instead of --slurm true) writes the tables"
    )


def _rescore(grid: Grid, row: dict, data_dir: str, out: Path) -> dict:
    """The run's best checkpoint tested and validated again; training columns are kept."""
    setting = next(s for s in grid.settings if s.name == row["setting"])
    runs = Run.all_under(cell_folder(out, grid.name, setting, int(row["seed"])))
    best = runs[0].best if runs else None
    if best is None:
        raise FileNotFoundError(
            f"no best checkpoint of {row['setting']}, seed {row['seed']} in {out / 'runs'}: "
            "rerun the grid (without rescore) to make it"
        )
    scores = {}
    for subcommand, metric in (("test", "test/acc"), ("validate", "val/acc")):
        cli = run_cli(
            [subcommand, "--ckpt_path", str(best), "--data.data_dir", data_dir]
            + ["--data.download", "false", "--trainer.enable_progress_bar", "false"]
            + ["--trainer.logger", "false"]
        )
        scores[metric] = round(float(cli.trainer.callback_metrics[metric]), 4)
    print(
        f"{grid.name}: {row['setting']}, seed {row['seed']}: test acc {row['test_acc']} -> "
        f"{scores['test/acc']}",
        flush=True,
    )
    return {
        **row,
        "test_acc": scores["test/acc"],
        "best_val_acc": scores["val/acc"],
        "scored": f"re-scored from {best.name}",
    }


# --help lists the grids it finds.
run_grid.__doc__ = run_grid.__doc__.replace("GRIDS_FOUND", ", ".join(available()))
