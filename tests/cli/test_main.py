import re
import shutil
import warnings

import numpy as np
import pytest
import torch
import yaml
from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.profilers import SimpleProfiler
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lstm_mnist.cli import LSTMMnistCLI, RunConfig, cli_main, run_cli
from lstm_mnist.cli.tuning import NoProfiler
from lstm_mnist.core.data import MNISTDataModule
from lstm_mnist.core.model import LSTMClassifier
from lstm_mnist.runs.checkpoint import RunCheckpoint
from lstm_mnist.tools.predict import PredictionWriter
from lstm_mnist.tools.report import TestReport as Report  # (not a pytest class)
from tests.helpers import (
    PROJECT_ROOT,
    assert_one_line_error,
    best_checkpoint,
    copy_run,
    files_of,
    in_process,
    lstm_mnist,
    write_idx,
    write_tiny_mnist,
)

CONFIGS = sorted((PROJECT_ROOT / "configs").glob("*.yaml"))
DEFAULT, PADDED = (str(PROJECT_ROOT / "configs" / f"{name}.yaml") for name in ("default", "padded"))
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]
QUIET += ["--trainer.log_every_n_steps", "1"]
ONE_CYCLE = [
    "--lr_scheduler",
    "torch.optim.lr_scheduler.OneCycleLR",
    "--lr_scheduler.max_lr",
    "0.01",
]
ONE_CYCLE += ["--trainer.max_epochs", "1", "--data.val_size", "50"]  # 2 batches of 128


@pytest.mark.parametrize("config", CONFIGS, ids=lambda path: path.name)
def test_every_config_parses_and_instantiates(config, tiny_data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--config", str(config), "--data.data_dir", str(tiny_data_dir)]
    cli = LSTMMnistCLI(LSTMClassifier, MNISTDataModule, args=args, run=False)
    # input_size is linked, never written: the model reads what the data module produces
    assert cli.model.lstm.input_size == cli.datamodule.input_size
    assert "input_size" not in (yaml.safe_load(config.read_text()).get("model") or {})


def test_padded_config_links_42_features(tiny_data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--config", PADDED, "--data.data_dir", str(tiny_data_dir)]
    cli = LSTMMnistCLI(LSTMClassifier, MNISTDataModule, args=args, run=False)
    assert cli.datamodule.pad_width == 14
    assert cli.model.lstm.input_size == 42


def test_pixel_sequences_link_784_steps(tiny_data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--config", DEFAULT, "--data.data_dir", str(tiny_data_dir), "--data.scan", "pixels"]
    cli = LSTMMnistCLI(LSTMClassifier, MNISTDataModule, args=args, run=False)
    assert (cli.model.hparams.seq_len, cli.model.lstm.input_size) == (784, 1)
    assert cli.model.example_input_array.shape == (1, 784, 1)


LAYERED = [path for path in CONFIGS if "config" in yaml.safe_load(path.read_text())]


@pytest.mark.parametrize("config", LAYERED, ids=lambda path: path.name)
def test_a_layered_config_is_its_base_with_only_its_own_keys_changed(config, capsys):
    def resolved(path):
        with pytest.raises(SystemExit):
            cli_main(["fit", "--config", str(path), "--print_config"])
        return yaml.safe_load(capsys.readouterr().out)

    changes = yaml.safe_load(config.read_text())
    expected = resolved(config.parent / changes.pop("config"))
    actual = resolved(config)
    for dotted, value in changes.items():
        *sections, key = dotted.split(".")
        node = expected
        for section in sections:
            node = node[section]
        assert node[key] != value, f"{config.name} sets {dotted} to its base's value"
        if isinstance(value, dict):  # a block naming another class: that section is replaced
            assert value["class_path"] != node[key]["class_path"]
            assert value["init_args"].items() <= actual[key]["init_args"].items()
            value = actual[key]  # with the new class's defaults filled in
        node[key] = value
    assert actual == expected


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
    assert settings["data"]["pad_width"] == 14
    assert settings["optimizer"]["init_args"]["lr"] == 1e-3


@pytest.mark.parametrize(
    "preset", sorted((PROJECT_ROOT / "configs" / "trainer").glob("*.yaml")), ids=lambda p: p.name
)
def test_trainer_presets_stack_on_a_model_config(preset, capsys):
    with pytest.raises(SystemExit):
        cli_main(["fit", "--config", DEFAULT, "--config", str(preset), "--print_config"])
    trainer = yaml.safe_load(capsys.readouterr().out)["trainer"]
    assert trainer | yaml.safe_load(preset.read_text())["trainer"] == trainer


@pytest.mark.parametrize(
    ("subcommand", "writer", "report", "fitting"),
    [
        ("fit", False, False, True),
        ("fit --test_after_fit true", False, True, True),
        ("validate", False, False, False),
        ("test", False, True, False),
        ("predict", True, False, False),
    ],
)
def test_stage_callbacks_join_only_the_subcommands_that_use_them(
    subcommand, writer, report, fitting, trained_run, tiny_data_dir, tmp_path
):
    args = [*subcommand.split(), "--config", DEFAULT, "--data.data_dir", str(tiny_data_dir), *QUIET]
    args += ["--data.val_size", "50", "--trainer.default_root_dir", str(tmp_path)]
    args += [f"--trainer.limit_{stage}_batches=1" for stage in ("train", "val", "test", "predict")]
    args += ["--trainer.max_epochs", "1", "--prediction_writer.print_limit", "0"]
    if not fitting:
        args += ["--ckpt_path", str(best_checkpoint(trained_run))]
    cli = LSTMMnistCLI(LSTMClassifier, MNISTDataModule, args=args)
    kinds = {type(callback) for callback in cli.trainer.callbacks}
    assert (PredictionWriter in kinds, Report in kinds) == (writer, report)
    assert RunCheckpoint in kinds
    # the run's config and its learning-rate curve belong to a fit
    assert (LearningRateMonitor in kinds, RunConfig in kinds) == (fitting, fitting)


def test_without_a_subcommand_the_callbacks_are_fits(tiny_data_dir, tmp_path):
    args = ["--config", DEFAULT, "--data.data_dir", str(tiny_data_dir)]
    args += ["--trainer.default_root_dir", str(tmp_path)]
    cli = LSTMMnistCLI(LSTMClassifier, MNISTDataModule, args=args, run=False)
    checkpoints = [cb for cb in cli.trainer.callbacks if isinstance(cb, ModelCheckpoint)]
    assert sorted(cb.filename for cb in checkpoints) == sorted(
        ["epoch{epoch:02d}-val_acc{val/acc:.4f}", "last"]
    )
    kinds = {type(callback) for callback in cli.trainer.callbacks}
    assert PredictionWriter not in kinds
    assert Report not in kinds


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
    args += ["--trainer.default_root_dir", str(tmp_path)]
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
    args += ["--trainer.default_root_dir", str(tmp_path)]
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


def test_one_cycle_steps_after_every_batch(tiny_data_dir, tmp_path):
    # Its total_steps counts batches; stepped once an epoch, it would never leave its warm-up.
    args = ["fit", "--config", DEFAULT, "--data.data_dir", str(tiny_data_dir), *ONE_CYCLE]
    args += ["--lr_scheduler.total_steps", "2", *QUIET]
    cli = run_cli([*args, "--trainer.default_root_dir", str(tmp_path)])
    (config,) = cli.trainer.lr_scheduler_configs
    assert (config.interval, config.scheduler.last_epoch) == ("step", 2)


def _cpu_runs_bf16_lstm() -> bool:
    with torch.autocast("cpu", dtype=torch.bfloat16):
        try:
            torch.nn.LSTM(2, 2)(torch.zeros(3, 1, 2))
        except RuntimeError:  # oneDNN without bfloat16 RNNs (AVX2 CPUs)
            return False
    return True


def test_bf16_mixed_precision_trains_on_a_cpu_that_can_or_says_it_cannot(
    tiny_data_dir, tmp_path, capsys
):
    # The GPU preset's bf16 option, exercised where the tests run: autocast on CPU.
    args = ["fit", "--config", DEFAULT, "--data.data_dir", str(tiny_data_dir)]
    args += ["--data.val_size", "50", "--trainer.default_root_dir", str(tmp_path / "runs")]
    args += ["--trainer.precision", "bf16-mixed", "--trainer.fast_dev_run", "true", *QUIET]
    if _cpu_runs_bf16_lstm():
        cli = run_cli(args)
        assert cli.trainer.precision == "bf16-mixed"
        assert cli.trainer.state.finished
        return
    with pytest.raises(SystemExit) as exit_:
        cli_main(args)
    assert exit_.value.code == (
        "error: --trainer.precision bf16-mixed: this CPU's oneDNN has no bfloat16 LSTM (it needs "
        "AVX512-BF16 or AMX); use 32-true here, or bf16-mixed on a GPU"
    )
    assert not (tmp_path / "runs").exists()


# The doors users walk through: the installed script, from a folder that is not the checkout.


def test_a_fit_exits_0_and_writes_only_under_its_root_dir(trained):
    run, result = trained
    assert result.returncode == 0
    assert "Traceback" not in result.stderr
    assert "LSTMMnistCLI object" not in result.stdout
    assert "Best checkpoint (val/acc=" in result.stdout
    assert str(run) in result.stdout
    workdir = run.parents[2]
    assert sorted(path.name for path in workdir.iterdir()) == ["runs"]  # nothing in the cwd
    assert (run / "config.yaml").is_file()
    assert list(run.glob("events.out.tfevents.*"))
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert best_checkpoint(run).is_file()
    tags = EventAccumulator(str(run)).Reload().Tags()["scalars"]
    assert {"train/acc", "train/lr", "val/loss", "val/acc"} <= set(tags)


def test_weight_averaging_tests_after_fit_what_the_checkpoint_holds(
    tiny_data_dir, tmp_path, capsys, recwarn
):
    # The checkpoint holds the averaged weights (its val/acc scored them); the test after the fit
    # and a later `test --ckpt_path` of the same checkpoint must score the same weights.
    ema = ["--trainer.callbacks+=EMAWeightAveraging", "--trainer.callbacks.decay=0.5"]
    args = ["--config", DEFAULT, "--data.data_dir", tiny_data_dir, "--data.val_size", "50", *QUIET]
    fit = lstm_mnist(
        "fit", *args, *ema, "--trainer.max_epochs", "2", "--test_after_fit", "true", cwd=tmp_path
    )
    assert fit.returncode == 0, fit.stderr[-3000:]
    assert "Traceback" not in fit.stderr
    assert "WeightAveraging" not in fit.stderr  # no advice to add it to the test
    (run,) = (tmp_path / "lightning_logs").iterdir()
    test = in_process(
        "test", "--ckpt_path", best_checkpoint(run), *QUIET, cwd=tmp_path, capsys=capsys
    )
    assert test.returncode == 0, test.stderr[-3000:]
    assert not [w for w in recwarn if "WeightAveraging" in str(w.message)]  # nor in a test
    after_fit, alone = (re.findall(r"test/loss\D*([0-9.]+)", r.stdout) for r in (fit, test))
    assert after_fit == alone != []


def test_test_time_shifts_score_the_checkpoint_on_its_moved_copies_too(
    trained_run, tmp_path, capsys
):
    # A trained model tested again with test-time augmentation: a new reading of the same
    # checkpoint, whose report joins the run's folder; the plain test is unchanged by it.
    run = copy_run(trained_run, tmp_path)
    test = ["test", "--ckpt_path", best_checkpoint(run), *QUIET]
    shifted = lstm_mnist(*test, "--data.test_time_shifts", "8", cwd=tmp_path)
    assert shifted.returncode == 0, shifted.stderr[-3000:]
    assert "Traceback" not in shifted.stderr
    assert "infer the `batch_size`" not in shifted.stderr  # the loss is weighted by digits
    assert "Test-time shifts: each image is also read moved by one pixel in 8 directions" in (
        shifted.stdout + shifted.stderr
    )
    plain = in_process(*test, cwd=tmp_path, capsys=capsys)
    assert plain.returncode == 0, plain.stderr[-3000:]
    # The same asked for in a config file (a config beside a checkpoint may set how it is read).
    config = tmp_path.parent / f"{tmp_path.name}-shifts.yaml"
    config.write_text("data.test_time_shifts: 8\n")
    configured = in_process(*test, "--config", config, cwd=tmp_path, capsys=capsys)
    assert configured.returncode == 0, configured.stderr[-3000:]
    losses = [re.findall(r"test/loss\D*([0-9.]+)", r.stdout) for r in (shifted, plain, configured)]
    assert [] not in losses
    assert losses[0] != losses[1]
    assert losses[2] == losses[0]
    assert [path.name for path in tmp_path.iterdir()] == ["lightning_logs"]


def test_a_run_fitted_with_test_time_shifts_is_tested_with_them_unless_told(
    tiny_data_dir, tmp_path, capsys
):
    # The shifts are a test setting: the after-fit test uses them, and so does a later test of
    # the run's checkpoint, unless the command line says otherwise.
    args = ["--config", DEFAULT, "--data.data_dir", tiny_data_dir, "--data.val_size", "50", *QUIET]
    args += ["--data.test_time_shifts", "4", "--trainer.max_epochs", "1"]
    fit = lstm_mnist("fit", *args, "--test_after_fit", "true", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr[-3000:]
    (run,) = (tmp_path / "lightning_logs").iterdir()
    assert f"Restoring states from the checkpoint path at {best_checkpoint(run)}" in fit.stderr
    assert "multiple `ModelCheckpoint`" not in fit.stderr  # the best one's path, said outright
    test = ["test", "--ckpt_path", best_checkpoint(run), *QUIET]
    again, plain = (
        in_process(*test, *more, cwd=tmp_path, capsys=capsys)
        for more in ([], ["--data.test_time_shifts", "0"])
    )
    after_fit, again, plain = (
        re.findall(r"test/loss\D*([0-9.]+)", r.stdout) for r in (fit, again, plain)
    )
    assert after_fit == again != []
    assert plain not in ([], again)


def test_testing_without_a_checkpoint_says_which_to_pass(tiny_data_dir, tmp_path):
    args = ["test", "--config", DEFAULT, "--data.data_dir", tiny_data_dir]
    result = lstm_mnist(*args, cwd=tmp_path)
    assert result.returncode == 1
    assert_one_line_error(result, "test needs a trained model", "--ckpt_path")
    assert list(tmp_path.iterdir()) == []  # no run folder, no config.yaml


# (predict without one reads with the packaged model: tests/tools/test_pretrained.py)
@pytest.mark.parametrize("subcommand", ["validate"])
def test_evaluating_without_a_checkpoint_says_which_to_pass(subcommand, tiny_data_dir, tmp_path):
    # The same door as the test above, in-process.
    args = [subcommand, "--config", DEFAULT, "--data.data_dir", str(tiny_data_dir)]
    with pytest.raises(SystemExit, match=f"{subcommand} needs a trained model: pass --ckpt_path"):
        cli_main([*args, "--trainer.default_root_dir", str(tmp_path)])
    assert list(tmp_path.iterdir()) == []


def test_ckpt_path_last_with_nothing_saved_says_so(tiny_data_dir, tmp_path, capsys):
    args = ["test", "--config", DEFAULT, "--data.data_dir", tiny_data_dir, "--ckpt_path", "last"]
    result = in_process(*args, cwd=tmp_path, capsys=capsys)
    assert result.returncode == 1
    assert_one_line_error(result, "--ckpt_path last", "fit one first")
    assert list(tmp_path.iterdir()) == []


BAD_YAML = "trainer:\n  max_epochs: [1\n"


@pytest.mark.parametrize(
    ("options", "named", "code"),
    [
        # one of each exit path (jsonargparse's exit 2; our checks' exit 1): each start of the
        # script costs ~7 s of the suite's 5 minutes, so the other messages are checked below
        (["--model.hiden_size", "8"], ["hiden_size", "lstm-mnist fit --help"], 2),
        (["--trainer.default_root_dir", "afile/runs"], ["default_root_dir", "afile/runs"], 1),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
def test_a_bad_option_is_one_line_that_names_it(options, named, code, tiny_data_dir, tmp_path):
    (tmp_path / "afile").write_text("not a folder")
    args = ["fit", "--config", DEFAULT, "--data.data_dir", tiny_data_dir, *options]
    result = lstm_mnist(*args, *QUIET, cwd=tmp_path)
    assert result.returncode == code
    assert_one_line_error(result, *named)
    assert [p.name for p in tmp_path.iterdir()] == ["afile"]  # nothing written


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--optimizer.lr", "-1"], "optimizer RMSprop: Invalid learning rate: -1"),
        (
            ["--trainer.max_epochs", "-3"],
            "`max_epochs` must be a non-negative integer or -1. You passed in -3",
        ),
        (["--data.data_dir", "afile"], "data.data_dir='afile' is a file: name the folder"),
        (["--lr_scheduler.factor", "2"], "lr_scheduler ReduceLROnPlateau: Factor should be < 1"),
        (["--data.pad_width", "-1"], "data.pad_width=-1 must be 0 or more"),
        (["--data.crop", "14"], "data.crop=14 must be in [0, 14) pixels"),
        (["--model.num_layers", "0"], "model.num_layers=0 must be at least 1"),
        (["--data.val_size", "100000"], "val_size=100000 must be smaller than the 300"),
        (["--data.pad_width", "many"], '"data.pad_width": got many; expected a whole number'),
        (["--data.scan", "diagonal"], "got diagonal; choose one of 'rows', 'columns', 'pixels'"),
        (["--config", "layered.yaml"], "layered.yaml: the block 'model:' beside 'config: "),
        (["--config", "bad.yaml"], "config file bad.yaml at line 3, column 1: expected"),
        (["--config", "typo.yaml"], "option 'model.hiden_size' (in config file typo.yaml)"),
        (["--config", "range.yaml"], "pad_width=-1 must be 0 or more (in config file range.yaml)"),
        (["--config", "includes.yaml"], "(in config file range.yaml)"),
        (
            [*ONE_CYCLE, "--lr_scheduler.total_steps", "3"],
            "total_steps=3 but this fit takes 2 steps (trainer.max_epochs times the training "
            "batches per epoch); set --lr_scheduler.total_steps 2",
        ),
        (
            ["--trainer.enable_checkpointing", "false", "--test_after_fit", "true"],
            "--test_after_fit tests the best checkpoint, which --trainer.enable_checkpointing "
            "false does not save: drop one of the two",
        ),
        pytest.param(
            ["--trainer.accelerator", "gpu"],
            "No supported gpu backend found! Use --trainer.accelerator cpu",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU"),
        ),
    ],
)
def test_more_bad_options_and_their_messages(
    options, message, tiny_data_dir, tmp_path, capsys, monkeypatch
):
    # The same door as above, in-process: the message of each of our checks.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("not a folder")
    (tmp_path / "layered.yaml").write_text(f"config: {DEFAULT}\nmodel:\n  init: chrono\n")
    (tmp_path / "bad.yaml").write_text(BAD_YAML)
    (tmp_path / "typo.yaml").write_text("model:\n  hiden_size: 8\n")
    (tmp_path / "range.yaml").write_text("data.pad_width: -1\n")
    (tmp_path / "includes.yaml").write_text("config: range.yaml\n")
    args = ["fit", "--config", DEFAULT, "--data.data_dir", str(tiny_data_dir), *options]
    with pytest.raises(SystemExit) as exit_:
        cli_main([*args, "--trainer.default_root_dir", str(tmp_path / "runs"), *QUIET])
    printed = f"{exit_.value.code}{capsys.readouterr().err}"
    assert exit_.value.code != 0
    assert message in printed
    assert "Traceback" not in printed
    assert not (tmp_path / "runs" / "lightning_logs").exists()


def test_a_class_setting_beside_config_in_the_form_the_error_gives_is_read(tmp_path, capsys):
    # The form check_config_files asks for (init_args) is one jsonargparse reads beside config:.
    best = PROJECT_ROOT / "configs" / "best.yaml"
    (tmp_path / "long.yaml").write_text(f"config: {best}\nlr_scheduler.init_args.T_max: 80\n")
    result = in_process(
        "fit", "--config", "long.yaml", "--print_config", cwd=tmp_path, capsys=capsys
    )
    assert result.returncode == 0, result.stderr[-2000:]
    printed = yaml.safe_load(result.stdout)
    assert printed["lr_scheduler"]["class_path"].endswith("CosineAnnealingLR")
    assert printed["lr_scheduler"]["init_args"]["T_max"] == 80
    assert printed["model"]["hidden_size"] == 40  # best.yaml's, kept


def test_no_logger_drops_the_learning_rate_monitor(tiny_data_dir, tmp_path, capsys):
    args = ["fit", "--config", DEFAULT, "--data.data_dir", tiny_data_dir, "--data.val_size", "50"]
    args += ["--trainer.logger", "false", "--trainer.max_epochs", "1", *QUIET]
    args += ["--trainer.default_root_dir", tmp_path / "root"]
    result = in_process(*args, cwd=tmp_path, capsys=capsys)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not list(tmp_path.rglob("lightning_logs"))
    assert not list(tmp_path.rglob("events.*"))
    assert (tmp_path / "root" / "checkpoints" / "last.ckpt").is_file()
    # A second new fit into that folder would overwrite its config.yaml: refused, nothing
    # touched. It can continue that fit instead (which updates last.ckpt in place).
    files = {path: path.read_bytes() for path in (tmp_path / "root").rglob("*") if path.is_file()}
    second = in_process(*args, cwd=tmp_path, capsys=capsys)
    assert_one_line_error(second, f"{tmp_path / 'root'} already holds a fit", "--ckpt_path last")
    assert {path: path.read_bytes() for path in files} == files
    assert {path for path in (tmp_path / "root").rglob("*") if path.is_file()} == set(files)
    epochs = ["--trainer.max_epochs", "2"]
    resumed = in_process(*args, *epochs, "--ckpt_path", "last", cwd=tmp_path, capsys=capsys)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    last = torch.load(tmp_path / "root" / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 1
    assert not list((tmp_path / "root").rglob("*-v1.*"))


def test_without_a_logger_the_root_folder_holds_one_run(tiny_data_dir, tmp_path, capsys):
    args = ["fit", "--config", DEFAULT, "--data.data_dir", tiny_data_dir, "--data.val_size", "50"]
    args += ["--trainer.logger", "false", "--trainer.max_epochs", "1", *QUIET]
    # A user's own config.yaml there is never overwritten; nothing to resume is said so.
    (tmp_path / "config.yaml").write_text(f"config: {DEFAULT}\n")
    mine = in_process(*args, cwd=tmp_path, capsys=capsys)
    assert_one_line_error(mine, f"{tmp_path / 'config.yaml'} exists", "default_root_dir")
    nothing = in_process(*args, "--ckpt_path", "last", cwd=tmp_path, capsys=capsys)
    assert_one_line_error(nothing, "nothing to resume", f"{tmp_path} has no checkpoints/last.ckpt")
    assert (tmp_path / "config.yaml").read_text() == f"config: {DEFAULT}\n"
    (tmp_path / "config.yaml").unlink()
    # A fit that fails its checks before the first step leaves the folder as it was.
    wrong = [*ONE_CYCLE, "--lr_scheduler.total_steps", "3"]
    assert in_process(*args, *wrong, cwd=tmp_path, capsys=capsys).returncode == 1
    assert list(tmp_path.iterdir()) == []
    # After a fit, a resume with other settings is refused and touches nothing.
    assert in_process(*args, cwd=tmp_path, capsys=capsys).returncode == 0
    saved = (tmp_path / "config.yaml").read_text()
    other = in_process(
        *args, "--ckpt_path", "last", "--model.dropout", "0.2", cwd=tmp_path, capsys=capsys
    )
    assert_one_line_error(other, f"the run in {tmp_path} was not trained", "model.dropout=0.0")
    assert (tmp_path / "config.yaml").read_text() == saved
    # A last.ckpt without the config.yaml its fit wrote (here a user's own file): settings
    # unknown, said so; and resuming it by path would overwrite that file, so it is refused.
    (tmp_path / "config.yaml").write_text(f"config: {DEFAULT}\n")
    unknown = in_process(*args, "--ckpt_path", "last", cwd=tmp_path, capsys=capsys)
    assert_one_line_error(unknown, "has no config.yaml written by its fit")
    last = tmp_path / "checkpoints" / "last.ckpt"
    by_path = in_process(
        *args, "--ckpt_path", last, "--trainer.max_epochs", "2", cwd=tmp_path, capsys=capsys
    )
    assert_one_line_error(by_path, f"{tmp_path / 'config.yaml'} exists")
    assert (tmp_path / "config.yaml").read_text() == f"config: {DEFAULT}\n"
    (tmp_path / "config.yaml").write_text(saved)
    # test (and explain, export: the same lookup) find its last.ckpt; the report goes beside it.
    test = in_process("test", "--ckpt_path", "last", *QUIET, cwd=tmp_path, capsys=capsys)
    assert test.returncode == 0, test.stderr[-3000:]
    assert "test/acc" in test.stdout
    assert list(tmp_path.glob("events.*"))
    # A fit stopped before its first checkpoint (config.yaml alone) does not block the folder.
    for path in [*tmp_path.glob("events.*"), tmp_path / "hparams.yaml"]:
        path.unlink()
    shutil.rmtree(tmp_path / "checkpoints")
    assert in_process(*args, cwd=tmp_path, capsys=capsys).returncode == 0


def test_a_resume_refused_by_a_check_or_made_with_any_seed_keeps_the_run_as_it_was(
    tiny_data_dir, tmp_path, capsys
):
    args = ["fit", "--config", DEFAULT, "--data.data_dir", tiny_data_dir, *QUIET, *ONE_CYCLE]
    args += ["--lr_scheduler.total_steps", "2", "--seed_everything", "7"]
    assert in_process(*args, cwd=tmp_path, capsys=capsys).returncode == 0
    run = tmp_path / "lightning_logs" / "version_0"
    before = files_of(run)
    # OneCycleLR's schedule is fixed by the run: more epochs are refused after the checkpoint
    # is read, and neither its config.yaml nor its curves gain anything.
    longer = [*args, "--trainer.max_epochs", "2", "--ckpt_path", "last"]
    refused = in_process(*longer, cwd=tmp_path, capsys=capsys)
    assert_one_line_error(
        refused, "total_steps=2 but this fit takes 4 steps", "cannot be made longer"
    )
    assert files_of(run) == before
    # "Any seed" continues with the run's seed: its config.yaml still records 7.
    again = [*args, "--seed_everything", "true", "--ckpt_path", "last"]
    assert in_process(*again, cwd=tmp_path, capsys=capsys).returncode == 0
    assert yaml.safe_load((run / "config.yaml").read_text())["seed_everything"] == 7


def test_a_corrupt_data_file_stops_a_test_before_it_writes_into_the_run(
    trained_run, tmp_path, capsys
):
    run = copy_run(trained_run, tmp_path)
    data = write_tiny_mnist(tmp_path / "data")
    labels = data / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    write_idx(labels, np.zeros(10_000, dtype=np.uint8))  # the published size: only md5 tells
    before = files_of(run)
    args = ["test", "--ckpt_path", run / "checkpoints" / "last.ckpt", "--data.data_dir", data]
    result = in_process(*args, *QUIET, cwd=tmp_path, capsys=capsys)
    assert_one_line_error(result, f"{labels} has the size of the published file", "corrupt")
    assert files_of(run) == before


def test_a_fit_without_checkpointing_saves_none(tiny_data_dir, tmp_path, capsys):
    args = ["fit", "--config", DEFAULT, "--data.data_dir", tiny_data_dir, "--data.val_size", "50"]
    args += ["--trainer.enable_checkpointing", "false", "--trainer.max_epochs", "1", *QUIET]
    result = in_process(*args, cwd=tmp_path, capsys=capsys)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    run = tmp_path / "lightning_logs" / "version_0"
    assert list(run.glob("events.*"))
    assert (run / "config.yaml").is_file()
    assert not list(tmp_path.rglob("*.ckpt"))


def test_missing_data_offline_is_one_clear_error(tmp_path, capsys):
    args = ["fit", "--config", DEFAULT, "--data.data_dir", tmp_path / "empty"]
    result = in_process(*args, "--data.download", "false", cwd=tmp_path, capsys=capsys)
    message = assert_one_line_error(result, "train-images-idx3-ubyte", "--data.data_dir")
    assert result.returncode == 1
    assert "lstm-mnist download" in message
    assert "--data.download true" not in message  # already the default


def test_help_names_every_command(tmp_path):
    result = lstm_mnist("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: lstm-mnist")
    for command in (
        "fit",
        "validate",
        "test",
        "predict",
        "download",
        "explain",
        "export",
        "experiments",
    ):
        assert command in result.stdout, command


def test_download_needs_no_network_when_the_files_are_there(tiny_data_dir, tmp_path):
    result = lstm_mnist("download", "--data_dir", tiny_data_dir, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"ready in {tiny_data_dir / 'MNIST' / 'raw'}" in result.stdout


def test_download_reads_the_files_before_it_says_they_are_ready(tmp_path, capsys):
    # A corrupt file of the published size: only its md5 tells (a truncated one: test_data.py).
    root = write_tiny_mnist(tmp_path)
    labels = root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    write_idx(labels, np.zeros(10_000, dtype=np.uint8))
    result = in_process("download", "--data_dir", root, cwd=tmp_path, capsys=capsys)
    assert_one_line_error(result, f"{labels} has the size of the published file", "corrupt")
    assert "ready" not in result.stdout


def test_download_names_its_own_option(tmp_path, capsys):
    (tmp_path / "afile").write_text("not a folder")
    result = in_process("download", "--data_dir", "afile", cwd=tmp_path, capsys=capsys)
    assert_one_line_error(result, "--data_dir='afile' is a file, not a folder")


def test_a_failed_download_says_what_to_do_with_this_command(tmp_path):
    # A proxy on a closed port: the download fails here, online or not, without touching the net.
    proxy = "http://127.0.0.1:9"
    args = ("download", "--data_dir", tmp_path / "data")
    result = lstm_mnist(*args, cwd=tmp_path, https_proxy=proxy, http_proxy=proxy)
    raw = tmp_path / "data" / "MNIST" / "raw"
    message = assert_one_line_error(result, f"could not be downloaded into {raw}", "t10k-labels")
    assert "machine with internet" in message
    assert "--data.data_dir" not in message  # `fit`'s option, not this command's
    assert not (tmp_path / "data" / "MNIST").exists()  # nothing half-made left behind


def test_a_fits_output_is_quiet_and_honest(tiny_data_dir, tmp_path):
    # Lightning's own bar and summary, as a user sees them: no advertisement, no v_num (the
    # logger's version, 0.000) in the bar, no FLOPs column in the summary, no warning.
    args = ["fit", "--config", DEFAULT, "--data.data_dir", tiny_data_dir, "--data.val_size", "50"]
    args += ["--trainer.max_epochs", "1", "--trainer.default_root_dir", tmp_path / "runs"]
    result = lstm_mnist(*args, "--progress_refresh_rate", "1", cwd=tmp_path, merged=True)
    assert result.returncode == 0, result.stdout[-3000:]
    output = result.stdout
    assert "Epoch 0" in output  # the bar is there (rich's where Gradio installed rich)
    assert "trainable parameters of 25.2 K" in output  # and the summary
    for noise in ("Tip:", "litlogger", "v_num", "FLOPs", "Flops", "Warning", "Traceback"):
        assert noise not in output, noise
