"""``predict`` on a person's images: a checkpoint is all it needs.

Every file is answered or named; the exit code tells a script whether all were read.
"""

import csv

import numpy as np
from PIL import Image

from lstm_mnist.cli import cli_main
from tests.helpers import QUIET, best_checkpoint, draw_seven, lstm_mnist


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
    rows = list(csv.DictReader(output.open()))
    assert sorted(row["file"].rsplit("/", 1)[1] for row in rows) == [
        "deep.png",
        "seven.gif",
        "seven.png",
        "seven.tif",
    ]
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
