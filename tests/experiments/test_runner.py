"""The experiments runner: grids as YAML files, cells that record themselves, tables gathered."""

import csv
import shutil

import pytest
import yaml

from lstm_mnist.cli import LSTMMnistCLI, cli_main
from lstm_mnist.core.data import MNISTDataModule
from lstm_mnist.core.errors import OptionError
from lstm_mnist.core.model import LSTMClassifier
from lstm_mnist.experiments.grid import GRIDS, Grid, Setting, available
from lstm_mnist.experiments.runner import run_grid
from lstm_mnist.experiments.tables import RESCORED_NOTE, markdown_table, read_csv
from tests.helpers import PROJECT_ROOT, assert_one_line_error, in_process, write_tiny_mnist

TINY = {"data.val_size": 50, "trainer.max_epochs": 1}


def tiny_grid(tmp_path, name: str = "reproduction") -> str:
    """A grid file of two settings, each a one-epoch fit on tiny data."""
    grid = {
        "config": "default.yaml",
        "settings": [
            {"name": "default", "overrides": TINY, "keras": 0.9856},
            {"name": "pad_width 14", "overrides": {**TINY, "data.pad_width": 14}},
        ],
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(grid, sort_keys=False))
    return str(path)


def csv_rows(path) -> list[dict]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def test_a_grid_writes_its_csv_and_markdown_table(tiny_data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # from any folder: the configs are found in the project
    grid = tiny_grid(tmp_path)
    run = {"data_dir": str(tiny_data_dir), "out_dir": str(tmp_path)}
    run_grid(grid, seeds=[0, 1], workers=2, **run)
    rows = csv_rows(tmp_path / "reproduction.csv")
    cells = [("default", "0"), ("default", "1"), ("pad_width 14", "0"), ("pad_width 14", "1")]
    assert [(r["setting"], r["seed"]) for r in rows] == cells
    assert {r["parameters"] for r in rows} == {"25162", "26954"}
    assert rows[0]["epochs"] == "1"
    assert {r["threads"] for r in rows} == {"1"}  # each worker process, one thread
    runs = tmp_path / "runs" / "reproduction"
    assert sorted(path.name for path in runs.iterdir()) == [
        "default_seed0",
        "default_seed1",
        "pad_width_14_seed0",
        "pad_width_14_seed1",
    ]
    record = yaml.safe_load((runs / "default_seed0" / "cell.yaml").read_text())
    assert record["status"] == "done"
    assert (runs / "default_seed0" / "lightning_logs" / "version_0" / "config.yaml").is_file()
    table = (tmp_path / "reproduction.md").read_text()
    mean = 100 * (float(rows[0]["test_acc"]) + float(rows[1]["test_acc"])) / 2
    assert f"| default | {mean:.2f} +- " in table
    assert "| 98.56% |" in table
    assert "| pad_width 14 |" in table
    assert "| - |" in table
    commit = rows[0]["commit"]
    assert f"Ran on: {rows[0]['machine']} ({rows[0]['date']}, commit {commit})." in table
    assert len(commit.rstrip("+")) >= 7  # the project's commit (+ where src/configs changed)
    assert "-core " in rows[0]["machine"]
    assert "not finished" not in capsys.readouterr().err
    # render_only rewrites the same table from the CSV, without running anything
    (tmp_path / "reproduction.md").unlink()
    run_grid(grid, out_dir=str(tmp_path), render_only=True)
    assert (tmp_path / "reproduction.md").read_text() == table
    # rescore tests and validates each run's best checkpoint again: the same code, the same scores
    run_grid(grid, rescore=True, **run)
    again = csv_rows(tmp_path / "reproduction.csv")
    for before, after in zip(rows, again, strict=True):
        assert after["scored"].startswith("re-scored from epoch00-val_acc")
        assert (after["test_acc"], after["best_val_acc"]) == (
            before["test_acc"],
            before["best_val_acc"],
        )
    assert RESCORED_NOTE in (tmp_path / "reproduction.md").read_text()
    # settings and seeds rerun part of the grid: the other rows are kept, in the grid's order
    run_grid(grid, settings=["default"], seeds=[1], **run)
    rerun = csv_rows(tmp_path / "reproduction.csv")
    assert [(r["setting"], r["seed"]) for r in rerun] == cells
    assert [r["scored"] for r in rerun] == [
        again[0]["scored"],
        "at fit",
        *(r["scored"] for r in again[2:]),
    ]
    assert all(r["seconds"].isdigit() for r in rerun)  # rewritten rows keep whole seconds
    with pytest.raises(OptionError, match="grid reproduction has no setting 'c'; its settings"):
        run_grid(grid, settings=["c"], **run)


def test_an_unfinished_cell_is_named_never_counted(tiny_data_dir, tmp_path, capsys):
    # One cell failed (a data folder that holds nothing), one never started: gathering names
    # both, in the output and in the table's notes, and counts neither; twice, the same table.
    grid = tiny_grid(tmp_path)
    run_grid(grid, seeds=[0], data_dir=str(tiny_data_dir), out_dir=str(tmp_path))
    shutil.rmtree(tmp_path / "runs" / "reproduction" / "pad_width_14_seed0")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(Exception, match="1 of 1 cells are not finished"):
        run_grid(grid, seeds=[1], settings=["default"], data_dir=str(empty), out_dir=str(tmp_path))
    args = ["experiments", "--grid", grid, "--seeds", "[0, 1]", "--out_dir", tmp_path]
    result = in_process(*args, "--gather", "true", cwd=tmp_path, capsys=capsys)
    line = assert_one_line_error(result, "3 of 4 cells are not finished")
    assert "not finished: reproduction: default, seed 1: failed (" in result.stderr, line
    assert "pad_width 14, seed 0: pending (not started)" in result.stderr
    table = (tmp_path / "reproduction.md").read_text()
    (default,) = [line for line in table.splitlines() if line.startswith("| default |")]
    assert default.split(" | ")[2] == "1"  # runs: seed 0's alone is counted
    assert "| pad_width 14 |" not in table  # its old row is not counted while it is pending
    assert "- default, seed 1: failed (" in table
    assert "- pad_width 14, seed 0: pending (not started)" in table
    in_process(*args, "--gather", "true", cwd=tmp_path, capsys=capsys)
    assert (tmp_path / "reproduction.md").read_text() == table


def test_print_commands_prints_each_cell_as_an_ordinary_fit(tmp_path, capsys):
    run_grid("record", seeds=[3], settings=["best + mean readout"], print_commands=True)
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"lstm-mnist fit --config {PROJECT_ROOT / 'configs' / 'best.yaml'}")
    assert "--model.readout mean --seed_everything 3" in line
    assert "/runs/record/best_mean_readout_seed3" in line


def test_the_help_lists_the_grids_it_finds(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli_main(["experiments", "--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in available())
    assert len(available()) >= 10


def test_a_bad_grid_file_is_one_line_that_names_it(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("config: default.yaml\nsettings:\n  - name: a\n    override: {}\n")
    result = in_process("experiments", "--grid", bad, cwd=tmp_path, capsys=capsys)
    assert_one_line_error(result, str(bad), "'override'", "overrides")
    result = in_process("experiments", "--grid", "nonesuch", cwd=tmp_path, capsys=capsys)
    assert_one_line_error(result, "nonesuch", "record")


CELLS = [
    (grid, setting) for grid in available() for setting in Grid.load(grid).settings
]  # every row of every grid file


@pytest.mark.parametrize(("grid", "setting"), CELLS, ids=[f"{g}: {s.name}" for g, s in CELLS])
def test_every_grid_cell_is_a_valid_command_line(grid, setting, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data_dir = write_tiny_mnist(write_tiny_mnist(tmp_path), "FashionMNIST")
    full = [*setting.args(), "--data.data_dir", str(data_dir), "--data.download", "false"]
    if "trainer/gpu.yaml" in setting.configs:  # a GPU grid's cell, checked here on the CPU
        full += ["--trainer.accelerator", "cpu"]
    cli = LSTMMnistCLI(LSTMClassifier, MNISTDataModule, args=full, run=False)
    if grid in ("best", "levers", "fashion", "record") and "seed" not in setting.name:
        assert sum(p.numel() for p in cli.model.parameters()) <= 26_570  # the seed's padded model


@pytest.mark.parametrize(
    ("config", "grid", "setting"),
    [
        ("record.yaml", "record", "bidirectional + elastic 16 + test-time shifts, 80 epochs"),
        ("fashion.yaml", "fashion", "best recipe, 80 epochs + test-time shifts"),
        ("bidirectional.yaml", "record", "best, bidirectional 2 x LSTM(24)"),
        ("padded.yaml", "reproduction", "padded"),
        ("best.yaml", "best", "best recipe"),
    ],
)
def test_a_shipped_config_is_the_grid_row_its_figure_comes_from(config, grid, setting, capsys):
    # The figure in a config's comment and the README was measured by the grid's row: the two
    # must stay one run (jsonargparse orders a class's keys as written, so compare as dicts).
    (row,) = [s for s in Grid.load(grid).settings if s.name == setting]

    def resolved(*args):
        with pytest.raises(SystemExit):
            cli_main(["fit", *args, "--print_config"])
        return yaml.safe_load(capsys.readouterr().out)

    assert resolved("--config", str(GRIDS.parent / config)) == resolved(*row.args())


def test_render_only_keeps_every_number_of_the_shipped_tables(tmp_path):
    # The tables in results/ were written by the runner before grids were YAML files: rendered
    # again from their CSVs, every number stays (the notes may name more, e.g. the commit).
    for grid in available():
        shipped = PROJECT_ROOT / "results" / f"{grid}.csv"
        if not shipped.is_file():
            continue
        shutil.copy(shipped, tmp_path / shipped.name)
        run_grid(grid, out_dir=str(tmp_path), render_only=True)
        before = (PROJECT_ROOT / "results" / f"{grid}.md").read_text().split("\n\n")[1]
        after = (tmp_path / f"{grid}.md").read_text().split("\n\n")[1]
        assert _table_rows(after) == _table_rows(before), grid


def _table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ")]


def test_the_table_names_where_and_from_which_commit_its_runs_ran():
    grid = Grid("g", (Setting("old", ("default.yaml",)), Setting("new, more", ("default.yaml",))))
    row = {"seed": 0, "test_acc": 0.99, "parameters": 1, "epochs": 1, "seconds": 1, "overrides": ""}
    old = {**row, "setting": "old", "machine": "", "date": ""}  # a CSV from before the column
    new = {**row, "setting": "new, more", "machine": "M", "date": "2026-12-02", "commit": "abc1234"}
    assert markdown_table(grid, [new]).endswith("\nRan on: M (2026-12-02, commit abc1234).\n")
    table = markdown_table(grid, [old, new])
    assert table.endswith("\nRan on: M (2026-12-02, commit abc1234): `new, more`.\n")
    before_commits = {**new, "commit": ""}  # a row from before the runner recorded its commit
    assert "commit not recorded" in markdown_table(grid, [before_commits])


def test_read_csv_takes_older_tables(tmp_path):
    (tmp_path / "g.csv").write_text("setting,seed,test_acc,seconds\na,0,0.99,662.0\n")
    assert read_csv(tmp_path / "g.csv")[0]["seconds"] == 662
