"""``predict`` on a person's images: a checkpoint is all it needs.

Every file is answered or named; the exit code tells a script whether all were read.
"""

import csv

import numpy as np
from PIL import Image

from lstm_mnist.cli.main import cli_main, run_cli
from lstm_mnist.core.data import CLASS_NAMES
from tests.helpers import CONFIGS, QUIET, best_checkpoint, draw_seven, lstm_mnist, write_tiny_mnist


def photos(folder):
    folder.mkdir()
    draw_seven().save(folder / "seven.png")
    draw_seven().save(folder / "seven.gif")
    draw_seven().save(folder / "seven.tif")
    ink = 60000 * (np.asarray(draw_seven(mode="L")) < 128).astype(np.uint16)
    Image.fromarray(ink).save(folder / "deep.png")  # 16-bit grey, ink above 255
    Image.new("L", (50, 50), 255).save(folder / "blank.png")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    return folder


def test_predict_a_persons_photos_with_only_a_checkpoint(trained_run, tmp_path):
    folder = photos(tmp_path / "photos")
    output = tmp_path / "out" / "predictions.csv"
    args = ["predict", "--ckpt_path", best_checkpoint(trained_run), "--data.predict_files"]
    args += [f"[{folder}, {tmp_path}/scans/*.jpg]", "--prediction_writer.output", output]
    # no MNIST anywhere: the data folder does not exist, and must not be made
    args += ["--data.data_dir", tmp_path / "data", "--trainer.enable_model_summary", "false"]
    result = lstm_mnist(*args, cwd=tmp_path, merged=True)  # as a log file sees it
    log = result.stdout
    assert result.returncode == 1, log[-3000:]  # two files could not be read
    assert "Traceback" not in log
    lines = log.splitlines()
    for name in ("seven.png", "seven.gif", "seven.tif", "deep.png"):
        (line,) = [line for line in lines if f"{name}: " in line]
        assert line.startswith(str(folder / name)), line  # on its own line, not after the bar
    assert any(line.startswith("error: ") and "blank.png" in line for line in lines)
    assert any(line.startswith("error: ") and "broken.jpg" in line for line in lines)
    assert any(line == f"error: {tmp_path}/scans/*.jpg: no such file" for line in lines)
    assert lines[-1] == "error: 3 of 7 files could not be read"  # a glob that matched nothing
    assert "--prediction_writer.output" not in log  # it was given
    rows = list(csv.DictReader(output.read_text().splitlines()))
    assert sorted(row["file"].rsplit("/", 1)[1] for row in rows) == [
        "deep.png",
        "seven.gif",
        "seven.png",
        "seven.tif",
    ]
    assert all(row["name"] == row["class"] for row in rows)  # a digit is its own name
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out", "photos"]


def test_predict_on_the_test_set_exits_0_and_writes_no_run(trained_run, tiny_data_dir, tmp_path):
    args = ["predict", "--ckpt_path", best_checkpoint(trained_run), *QUIET]
    args += ["--data.data_dir", tiny_data_dir, "--prediction_writer.print_limit", "5"]
    result = lstm_mnist(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("test[") == 5
    assert "... 65 more; save all with --prediction_writer.output" in result.stdout
    assert list(tmp_path.iterdir()) == []  # no run folder, no config.yaml


def test_one_file_needs_no_list(trained_run, tmp_path, monkeypatch, capsys):
    # In-process (the script's door is tested above; each start of it costs ~7 s of the suite).
    monkeypatch.chdir(tmp_path)
    draw_seven().save(tmp_path / "seven.png")
    args = ["predict", "--ckpt_path", str(best_checkpoint(trained_run)), *QUIET]
    cli_main([*args, "--data.predict_files", "seven.png"])
    assert capsys.readouterr().out.startswith("seven.png: ")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["seven.png"]


def test_fashion_predictions_name_their_classes(tmp_path, monkeypatch, capsys):
    data = write_tiny_mnist(tmp_path / "data", folder="FashionMNIST")
    monkeypatch.chdir(tmp_path)
    args = ["--config", str(CONFIGS / "default.yaml"), "--data.dataset", "fashion_mnist"]
    args += ["--data.data_dir", str(data), "--data.val_size", "50", "--trainer.max_epochs", "1"]
    checkpoint = run_cli(["fit", *args, *QUIET]).trainer.checkpoint_callback.best_model_path
    output = tmp_path / "predictions.csv"
    capsys.readouterr()  # the fit's lines
    cli_main(["predict", "--ckpt_path", checkpoint, "--prediction_writer.output", str(output)])
    rows = list(csv.DictReader(output.read_text().splitlines()))
    assert len(rows) == 70  # the tiny test set
    names = CLASS_NAMES["fashion_mnist"]
    assert all(row["name"] == names[int(row["class"])] for row in rows)
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(f"test[0]: {rows[0]['name']} (p=")
    top = _top_names(first)
    assert len(top) == 3
    assert set(top) <= set(names)


def _top_names(line: str) -> list[str]:
    # "test[0]: Ankle boot (p=0.12; top: Ankle boot 0.12, Bag 0.11, Coat 0.11)"
    return [item.rsplit(" ", 1)[0] for item in line.split("top: ")[1].rstrip(")").split(", ")]
