"""A checkpoint is all that test/validate/predict need, and a bad one is one line naming it.

Run as users run it: the installed script, in a subprocess, from a folder that is not the
checkout; the further checks of the same doors run its ``cli_main`` in-process.
"""

import shutil
from functools import partial

import pytest
import torch
import yaml

from lstm_mnist.runs.checkpoint import CheckpointError, load_run, read_checkpoint, trained_settings
from lstm_mnist.tools.classifier import Classifier
from tests.helpers import (
    CONFIGS,
    QUIET,
    assert_one_line_error,
    best_checkpoint,
    in_process,
    lstm_mnist,
)


def bad_checkpoint(kind: str, good, folder):
    path = folder / f"{kind}.ckpt"
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":  # a copy cut short, as by a full disk or a killed copy
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    elif kind == "text":
        path.write_text("not a checkpoint\n")
    elif kind == "folder":
        path.mkdir()
    elif kind == "foreign":  # a torch file without this project's model settings
        torch.save({"state_dict": {}}, path)
    return path


# Each way a checkpoint can be bad, and what the message says. Through the script: a typo; the
# others through its cli_main in-process (each start of the script costs ~7 s of the suite's 5
# minutes).
BAD = [
    ("missing", "does not exist"),
    ("empty", "is empty"),
    ("truncated", "is truncated or not a checkpoint"),
    ("text", "is truncated or not a checkpoint"),
    ("folder", "is a folder"),
    ("foreign", "holds no model settings"),
]


@pytest.mark.parametrize(("kind", "says"), BAD)
def test_a_bad_checkpoint_is_one_line_that_names_it(kind, says, trained_run, tmp_path, capsys):
    path = bad_checkpoint(kind, best_checkpoint(trained_run), tmp_path)
    before = sorted(tmp_path.iterdir())
    run = lstm_mnist if kind == "missing" else partial(in_process, capsys=capsys)
    result = run("validate", "--ckpt_path", path, cwd=tmp_path)
    assert result.returncode == 1
    assert_one_line_error(result, str(path), says)
    assert sorted(tmp_path.iterdir()) == before  # nothing written


def test_test_takes_the_model_from_its_checkpoint(trained_run, tmp_path):
    # With default.yaml beside a padded checkpoint the padded model is still tested, on the data
    # the fit read (no --data.data_dir), and its report joins the run's own TensorBoard folder.
    run = shutil.copytree(trained_run, tmp_path / "run")
    before = set(run.glob("events.out.tfevents.*"))
    args = ["test", "--config", CONFIGS / "default.yaml"]
    result = lstm_mnist(*args, "--ckpt_path", best_checkpoint(run), *QUIET, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test/acc" in result.stdout
    assert "Traceback" not in result.stderr
    assert len(set(run.glob("events.out.tfevents.*")) - before) == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run"]  # no new run folder


def test_print_config_of_a_test_shows_the_checkpoints_settings(trained_run, tmp_path):
    # What test will run: the padded model and its split, not default.yaml's or the defaults.
    args = [
        "test",
        "--config",
        CONFIGS / "default.yaml",
        "--ckpt_path",
        best_checkpoint(trained_run),
    ]
    result = lstm_mnist(*args, "--print_config", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    printed = yaml.safe_load(result.stdout)
    assert (printed["data"]["pad_width"], printed["data"]["val_size"]) == (14, 50)
    assert printed["ckpt_path"] == str(best_checkpoint(trained_run))
    assert list(tmp_path.iterdir()) == []


def test_an_explicit_option_that_contradicts_the_checkpoint_is_named(
    trained_run, tiny_data_dir, tmp_path, capsys
):
    args = ["test", "--ckpt_path", best_checkpoint(trained_run), "--data.pad_width", "0"]
    result = in_process(*args, "--data.data_dir", tiny_data_dir, cwd=tmp_path, capsys=capsys)
    assert result.returncode == 1
    assert_one_line_error(result, "--data.pad_width 0", "drop it")


def test_the_settings_in_a_checkpoint_rebuild_its_model(trained_run):
    checkpoint = read_checkpoint(best_checkpoint(trained_run))
    settings = trained_settings(checkpoint)
    assert settings["data"]["pad_width"] == 14
    assert settings["model"]["hidden_size"] == 32
    assert "data_dir" not in settings["data"]
    assert "input_size" not in settings["model"]
    model, data = load_run(str(best_checkpoint(trained_run)))
    assert model.lstm.input_size == 42
    assert data.pad_width == 14
    assert not model.training


@pytest.mark.parametrize(("kind", "says"), BAD)
def test_read_checkpoint_refuses_what_is_not_a_checkpoint(kind, says, trained_run, tmp_path):
    path = bad_checkpoint(kind, best_checkpoint(trained_run), tmp_path)
    with pytest.raises(CheckpointError, match=f"checkpoint {path} {says}"):
        read_checkpoint(path)


def test_a_cropped_run_is_read_back_with_its_crop(cropped_checkpoint):
    model, data = load_run(cropped_checkpoint)
    assert (data.crop, model.lstm.input_size, model.hparams.seq_len) == (2, 24, 24)
    (reading,) = Classifier(cropped_checkpoint).read_digits(
        torch.zeros(1, 28, 28, dtype=torch.uint8)
    )
    assert reading.probs.shape == (24, 10)
    assert not reading.steps_are_rows  # step t reads image row t + 2: no shared axis
