import csv

import pytest
import yaml

from lstm_mnist.cli.main import LSTMMnistCLI, cli_main
from lstm_mnist.core.data import MNISTDataModule
from lstm_mnist.core.errors import OptionError
from lstm_mnist.core.model import LSTMClassifier
from lstm_mnist.experiments import runner as experiments
from tests.helpers import PROJECT_ROOT, write_tiny_mnist


def test_a_grid_writes_its_csv_and_markdown_table(tiny_data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # from any folder: the configs are found in the project
    tiny = ["--data.val_size", "50", "--trainer.max_epochs", "1"]
    grid = [
        ("default", ["--config", experiments.DEFAULT, *tiny]),
        ("pad_width 14", ["--config", experiments.DEFAULT, "--data.pad_width", "14", *tiny]),
    ]
    monkeypatch.setitem(experiments.GRIDS, "reproduction", grid)
    run = {"data_dir": str(tiny_data_dir), "out_dir": str(tmp_path)}
    experiments.run_grid("reproduction", seeds=[0, 1], workers=2, **run)
    rows = list(csv.DictReader((tmp_path / "reproduction.csv").open()))
    cells = [("default", "0"), ("default", "1"), ("pad_width 14", "0"), ("pad_width 14", "1")]
    assert [(r["setting"], r["seed"]) for r in rows] == cells
    assert {r["parameters"] for r in rows} == {"25162", "26954"}
    assert rows[0]["epochs"] == "1"
    assert {r["threads"] for r in rows} == {"1"}  # each worker process, one thread
    runs = tmp_path / "lightning_logs" / "reproduction"
    assert sorted(path.name for path in runs.iterdir()) == [
        "default_seed0",
        "default_seed1",
        "pad_width_14_seed0",
        "pad_width_14_seed1",
    ]
    table = (tmp_path / "reproduction.md").read_text()
    mean = 100 * (float(rows[0]["test_acc"]) + float(rows[1]["test_acc"])) / 2
    assert f"| default | {mean:.2f} +- " in table
    assert "| 98.56% |" in table
    assert "| pad_width 14 |" in table
    assert "| - |" in table
    assert f"Ran on: {rows[0]['machine']} ({rows[0]['date']})." in table
    assert "-core " in rows[0]["machine"]
    # render_only rewrites the same table from the CSV, without running anything
    (tmp_path / "reproduction.md").unlink()
    experiments.run_grid("reproduction", out_dir=str(tmp_path), render_only=True)
    assert (tmp_path / "reproduction.md").read_text() == table
    # rescore tests and validates each run's best checkpoint again: the same code, the same scores
    experiments.run_grid("reproduction", rescore=True, **run)
    again = list(csv.DictReader((tmp_path / "reproduction.csv").open()))
    for before, after in zip(rows, again, strict=True):
        assert after["scored"].startswith("re-scored from epoch00-val_acc")
        assert (after["test_acc"], after["best_val_acc"]) == (
            before["test_acc"],
            before["best_val_acc"],
        )
    assert experiments.RESCORED_NOTE in (tmp_path / "reproduction.md").read_text()
    # settings and seeds rerun part of the grid: the other rows are kept, in the grid's order
    experiments.run_grid("reproduction", settings=["default"], seeds=[1], **run)
    rerun = list(csv.DictReader((tmp_path / "reproduction.csv").open()))
    assert [(r["setting"], r["seed"]) for r in rerun] == cells
    assert [r["scored"] for r in rerun] == [
        again[0]["scored"],
        "at fit",
        *(r["scored"] for r in again[2:]),
    ]
    assert all(r["seconds"].isdigit() for r in rerun)  # rewritten rows keep whole seconds
    with pytest.raises(OptionError, match="grid reproduction has no setting 'c'; its settings"):
        experiments.run_grid("reproduction", settings=["c"], **run)


CELLS = [(grid, name, args) for grid, cells in experiments.GRIDS.items() for name, args in cells]


@pytest.mark.parametrize(("grid", "name", "args"), CELLS, ids=[f"{g}: {n}" for g, n, _ in CELLS])
def test_every_grid_cell_is_a_valid_command_line(grid, name, args, tmp_path, monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)
    data_dir = write_tiny_mnist(write_tiny_mnist(tmp_path), "FashionMNIST")
    full = [*args, "--data.data_dir", str(data_dir), "--data.download", "false"]
    if experiments.GPU in args:  # a GPU grid's cell, checked here on the CPU
        full += ["--trainer.accelerator", "cpu"]
    cli = LSTMMnistCLI(LSTMClassifier, MNISTDataModule, args=full, run=False)
    if grid in ("best", "levers", "fashion", "record") and "seed" not in name:
        assert sum(p.numel() for p in cli.model.parameters()) <= 26_570  # the seed's padded model


@pytest.mark.parametrize(
    ("config", "grid", "setting"),
    [
        (
            "configs/record.yaml",
            "record",
            "bidirectional + elastic 16 + test-time shifts, 80 epochs",
        ),
        ("configs/fashion.yaml", "fashion", "best recipe, 80 epochs + test-time shifts"),
        ("configs/bidirectional.yaml", "record", "best, bidirectional 2 x LSTM(24)"),
    ],
)
def test_a_shipped_config_is_the_grid_row_its_figure_comes_from(
    config, grid, setting, monkeypatch, capsys
):
    # The figure in a config's comment and the README was measured by the grid's row: the two
    # must stay one run (jsonargparse orders a class's keys as written, so compare as dicts).
    monkeypatch.chdir(PROJECT_ROOT)
    (row,) = [args for name, args in experiments.GRIDS[grid] if name == setting]

    def resolved(*args):
        with pytest.raises(SystemExit):
            cli_main(["fit", *args, "--print_config"])
        return yaml.safe_load(capsys.readouterr().out)

    assert resolved("--config", config) == resolved(*row)


def test_the_table_names_where_its_runs_ran_even_when_older_rows_do_not_say():
    row = {"seed": 0, "test_acc": 0.99, "parameters": 1, "epochs": 1, "seconds": 1, "overrides": ""}
    old = {**row, "setting": "old", "machine": "", "date": ""}  # a CSV from before the column
    new = {**row, "setting": "new, more", "machine": "M", "date": "2026-12-02"}
    assert experiments.markdown_table("g", [new]).endswith("\nRan on: M (2026-12-02).\n")
    table = experiments.markdown_table("g", [old, new])
    assert table.endswith("\nRan on: M (2026-12-02): `new, more`.\n")
