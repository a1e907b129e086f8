import csv

from lstm_mnist import experiments
from tests.conftest import PROJECT_ROOT


def test_a_grid_writes_its_csv_and_markdown_table(tiny_data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(PROJECT_ROOT)  # grids name files in configs/
    tiny = ["--data.val_size", "50", "--trainer.max_epochs", "1"]
    grid = [
        ("default", ["--config", experiments.DEFAULT, *tiny]),
        ("pad_width 14", ["--config", experiments.DEFAULT, "--data.pad_width", "14", *tiny]),
    ]
    monkeypatch.setitem(experiments.GRIDS, "padding", grid)
    experiments.run_grid(
        "padding", seeds=[0, 1], data_dir=str(tiny_data_dir), out_dir=str(tmp_path)
    )
    rows = list(csv.DictReader((tmp_path / "padding.csv").open()))
    assert [(r["setting"], r["seed"]) for r in rows] == [
        ("default", "0"),
        ("default", "1"),
        ("pad_width 14", "0"),
        ("pad_width 14", "1"),
    ]
    assert {r["parameters"] for r in rows} == {"25162", "26954"} and rows[0]["epochs"] == "1"
    table = (tmp_path / "padding.md").read_text()
    mean = 100 * (float(rows[0]["test_acc"]) + float(rows[1]["test_acc"])) / 2
    assert f"| default | {mean:.2f} +- " in table and "| 98.56% |" in table
    assert "| pad_width 14 |" in table and "| - |" in table
