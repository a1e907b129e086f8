import csv
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.profilers import SimpleProfiler
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lstm_mnist.cli import LSTMMnistCLI, cli_main
from lstm_mnist.data import MNISTDataModule
from lstm_mnist.model import LSTMClassifier
from lstm_mnist.predict import PredictionWriter
from lstm_mnist.profiler import NoProfiler
from lstm_mnist.report import TestReport as Report  # (not a pytest class)
from tests.conftest import PROJECT_ROOT
from tests.test_images import draw_seven

CONFIGS = sorted((PROJECT_ROOT / "configs").glob("*.yaml"))
DEFAULT, PADDED = (str(PROJECT_ROOT / "configs" / f"{name}.yaml") for name in ("default", "padded"))
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
QUIET += ["--trainer.log_every_n_steps", "1"]


def run_module(*args: str, cwd) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "lstm_mnist", *map(str, args)]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda path: path.name)
def test_every_config_parses_and_instantiates(config, tiny_data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--config", str(config), "--data.data_dir", str(tiny_data_dir)]
    cli = LSTMMnistCLI(LSTMClassifier, MNISTDataModule, args=args, run=False)
    # input_size is linked, never written: the model reads what the data module produces
    assert cli.model.lstm.input_size == cli.datamodule.input_size
    assert "input_size" not in yaml.safe_load(config.read_text())["model"]


def test_padded_config_links_42_features(tiny_data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--config", PADDED, "--data.data_dir", str(tiny_data_dir)]
    cli = LSTMMnistCLI(LSTMClassifier, MNISTDataModule, args=args, run=False)
    assert cli.datamodule.pad_width == 14 and cli.model.lstm.input_size == 42


def test_print_config_round_trip(tiny_data_dir, tmp_path, capsys):
    def print_config(config):
        with pytest.raises(SystemExit):
            cli_main(["fit", "--config", str(config), "--print_config"])
        return capsys.readouterr().out

    printed = print_config(PADDED)
    saved = tmp_path / "printed.yaml"
    saved.write_text(printed)
    assert print_config(saved) == printed
    settings = yaml.safe_load(printed)
    assert settings["data"]["pad_width"] == 14 and settings["optimizer"]["init_args"]["lr"] == 1e-3


def test_fit_fast_dev_run_in_a_subprocess(tiny_data_dir, tmp_path):
    args = ["fit", "--config", PADDED, "--data.data_dir", tiny_data_dir, "--data.val_size", "50"]
    result = run_module(*args, "--trainer.fast_dev_run", "true", *QUIET, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_fit_writes_run_folder_then_test_validate_predict(
    tiny_data_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    common = ["--config", DEFAULT, "--data.data_dir", str(tiny_data_dir), "--data.val_size", "50"]
    fit_args = ["fit", *common, *QUIET, "--trainer.max_epochs", "2", "--test_after_fit", "true"]
    fit = cli_main(fit_args)
    run = tmp_path / "lightning_logs" / "version_0"
    assert (run / "config.yaml").is_file() and list(run.glob("events.out.tfevents.*"))
    best = fit.trainer.checkpoint_callback.best_model_path
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert Path(best).resolve().parent == run / "checkpoints"
    logged = EventAccumulator(str(run)).Reload().Tags()["scalars"]
    for key in ("train/loss", "train/acc", "val/loss", "val/acc", "test/loss", "test/acc"):
        assert key in logged, key

    test = cli_main(["test", *common, *QUIET, "--ckpt_path", best])
    assert test.trainer.callback_metrics["test/acc"] == fit.trainer.callback_metrics["test/acc"]
    validate = cli_main(["validate", *common, *QUIET, "--ckpt_path", best])
    assert "val/acc" in validate.trainer.callback_metrics
    cli_main(["predict", *common, *QUIET, "--ckpt_path", best])
    assert "test[0]: " in capsys.readouterr().out

    # predict on a person's files: the readable ones are predicted, the others named, exit 1
    photos = tmp_path / "photos"
    photos.mkdir()
    draw_seven().save(photos / "seven.png")
    (photos / "broken.jpg").write_bytes(b"not a jpeg")
    output = tmp_path / "predictions.csv"
    files = ["--data.predict_files", f"[{photos}]", "--prediction_writer.output", str(output)]
    with pytest.raises(SystemExit, match="1 of 2 files could not be read"):
        cli_main(["predict", *common, *QUIET, "--ckpt_path", best, *files])
    printed = capsys.readouterr()
    assert "broken.jpg" in printed.err and "seven.png: " in printed.out
    (row,) = csv.DictReader(output.open())
    assert row["file"].endswith("seven.png") and 0 <= int(row["digit"]) <= 9


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--data.pad_width", "-1"], "data option pad_width=-1 must be 0 or more"),
        (["--model.num_layers", "0"], "model option num_layers=0 must be at least 1"),
        (["--data.val_size", "100000"], "val_size=100000 must be smaller than the 300"),
        (["--model.hiden_size", "8"], "hiden_size"),
        (["--data.pad_width", "many"], "pad_width"),
    ],
)
def test_bad_options_fail_with_a_message(option, message, tiny_data_dir, tmp_path, capsys):
    args = ["fit", "--config", DEFAULT, "--data.data_dir", str(tiny_data_dir), *option]
    with pytest.raises(SystemExit) as exit_:
        cli_main([*args, "--trainer.fast_dev_run", "true"])
    # our errors are the exit message itself; jsonargparse prints its own to stderr, exit code 2
    assert exit_.value.code != 0
    assert message in f"{exit_.value.code}{capsys.readouterr().err}"


def test_missing_data_offline_is_one_clear_error(tmp_path):
    args = ["fit", "--config", DEFAULT, "--data.data_dir", tmp_path / "empty"]
    result = run_module(*args, "--data.download", "false", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "train-images-idx3-ubyte" in result.stderr and "--data.data_dir" in result.stderr


def test_console_script_is_installed(tmp_path):
    result = subprocess.run(["lstm-mnist", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "fit" in result.stdout


@pytest.mark.parametrize(
    "preset", sorted((PROJECT_ROOT / "configs" / "trainer").glob("*.yaml")), ids=lambda p: p.name
)
def test_trainer_presets_stack_on_a_model_config(preset, capsys):
    with pytest.raises(SystemExit):
        cli_main(["fit", "--config", DEFAULT, "--config", str(preset), "--print_config"])
    trainer = yaml.safe_load(capsys.readouterr().out)["trainer"]
    assert trainer | yaml.safe_load(preset.read_text())["trainer"] == trainer


def test_download_command_needs_no_network_when_files_are_there(tiny_data_dir, capsys):
    from lstm_mnist.download import main

    main(["--data_dir", str(tiny_data_dir)])
    assert f"ready in {tiny_data_dir / 'MNIST' / 'raw'}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("subcommand", "writer", "report"),
    [
        ("fit", False, False),
        ("fit --test_after_fit true", False, True),
        ("validate", False, False),
        ("test", False, True),
        ("predict", True, False),
    ],
)
def test_stage_callbacks_join_only_the_subcommands_that_use_them(
    subcommand, writer, report, tiny_data_dir, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    args = [*subcommand.split(), "--config", DEFAULT, "--data.data_dir", str(tiny_data_dir), *QUIET]
    args += ["--data.val_size", "50", "--trainer.fast_dev_run", "true"]
    cli = LSTMMnistCLI(LSTMClassifier, MNISTDataModule, args=args)
    kinds = {type(callback) for callback in cli.trainer.callbacks}
    assert (PredictionWriter in kinds, Report in kinds) == (writer, report)
    assert {ModelCheckpoint, LearningRateMonitor} <= kinds


def test_without_a_subcommand_the_callbacks_are_fits(tiny_data_dir, tmp_path):
    args = ["--config", DEFAULT, "--data.data_dir", str(tiny_data_dir)]
    args += ["--trainer.logger.init_args.save_dir", str(tmp_path)]
    cli = LSTMMnistCLI(LSTMClassifier, MNISTDataModule, args=args, run=False)
    checkpoints = [cb for cb in cli.trainer.callbacks if isinstance(cb, ModelCheckpoint)]
    assert sorted(cb.filename for cb in checkpoints) == sorted(
        ["epoch{epoch:02d}-val_acc{val/acc:.4f}", "last"]
    )
    kinds = {type(callback) for callback in cli.trainer.callbacks}
    assert PredictionWriter not in kinds and Report not in kinds  # no --test_after_fit


@pytest.mark.parametrize(
    ("args", "refresh_rate"),
    [
        ([], 10),  # Lightning's own bar, at the CLI's rate
        (["--progress_refresh_rate", "3"], 3),
        (["--trainer.callbacks+=TQDMProgressBar"], 1),  # a configured bar keeps its settings
        (["--trainer.enable_progress_bar", "false"], None),
    ],
)
def test_the_progress_bar_redraws_every_few_steps(args, refresh_rate, tiny_data_dir, tmp_path):
    args = ["--config", DEFAULT, "--data.data_dir", str(tiny_data_dir), *args]
    args += ["--trainer.logger.init_args.save_dir", str(tmp_path)]
    trainer = LSTMMnistCLI(LSTMClassifier, MNISTDataModule, args=args, run=False).trainer
    bar = trainer.progress_bar_callback
    assert (bar and bar.refresh_rate) == refresh_rate


@pytest.mark.parametrize(
    ("args", "profiler"),
    [
        ([], NoProfiler),  # none configured: nothing profiled, without Lightning's per-call cost
        (["--trainer.profiler", "simple"], SimpleProfiler),  # a configured one is kept
    ],
)
def test_a_fit_without_a_profiler_pays_nothing_for_one(args, profiler, tiny_data_dir, tmp_path):
    args = ["--config", DEFAULT, "--data.data_dir", str(tiny_data_dir), *args]
    args += ["--trainer.logger.init_args.save_dir", str(tmp_path)]
    trainer = LSTMMnistCLI(LSTMClassifier, MNISTDataModule, args=args, run=False).trainer
    assert type(trainer.profiler) is profiler
    with trainer.profiler.profile("a step") as name:  # what Lightning's loop does with it
        assert name == "a step"


def test_a_cosine_cut_short_by_max_epochs_is_reported(tiny_data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    best = str(PROJECT_ROOT / "configs" / "best.yaml")
    args = ["--config", best, "--data.data_dir", str(tiny_data_dir), "--trainer.max_epochs", "5"]
    with pytest.warns(UserWarning, match=r"T_max=40 but trainer.max_epochs=5"):
        LSTMMnistCLI(LSTMClassifier, MNISTDataModule, args=args, run=False)
    args += ["--lr_scheduler.T_max", "5"]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r"lr_scheduler\.init_args\.T_max=")
        LSTMMnistCLI(LSTMClassifier, MNISTDataModule, args=args, run=False)


def test_bf16_mixed_precision_trains_on_cpu(tiny_data_dir, tmp_path):
    # The GPU preset's bf16 option, exercised where the tests run: autocast on CPU.
    args = ["fit", "--config", DEFAULT, "--data.data_dir", tiny_data_dir, "--data.val_size", "50"]
    args += ["--trainer.precision", "bf16-mixed", "--trainer.fast_dev_run", "true", *QUIET]
    result = run_module(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
