"""Where runs are written, and which run ``fit --ckpt_path last`` continues (never another)."""

import hashlib
import shutil

import pytest
import torch
import yaml

from lstm_mnist.core.errors import OptionError
from lstm_mnist.runs.run import check_folder, differences, run_settings
from tests.helpers import (
    CONFIGS,
    QUIET,
    assert_one_line_error,
    copy_run,
    files_of,
    in_process,
    lstm_mnist,
)


def fingerprint(run) -> dict:
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in run.glob("checkpoints/*")}


def test_resume_refuses_a_run_of_other_settings(trained_run, tiny_data_dir, tmp_path, capsys):
    # A padded run, then a default-config fit stopped before its first checkpoint: resuming
    # the default fit must not continue the padded run.
    root = tmp_path / "runs"
    padded = copy_run(trained_run, root)
    (root / "lightning_logs" / "version_1").mkdir()  # the interrupted fit's folder
    before = fingerprint(padded)
    args = ["fit", "--config", CONFIGS / "default.yaml", "--data.data_dir", tiny_data_dir]
    args += ["--data.val_size", "50", "--trainer.default_root_dir", root, "--ckpt_path", "last"]
    result = in_process(*args, cwd=tmp_path, capsys=capsys)
    assert result.returncode == 1
    assert_one_line_error(result, str(padded), "data.pad_width=14")
    assert fingerprint(padded) == before


def test_resume_continues_the_run_of_the_same_settings(trained_run, tiny_data_dir, tmp_path):
    # Also a run saved before data.test_time_shifts existed, resumed with it set: a test
    # setting, which does not make another run.
    root = tmp_path / "runs"
    run = copy_run(trained_run, root)
    older = yaml.safe_load((run / "config.yaml").read_text())
    del older["data"]["test_time_shifts"]
    (run / "config.yaml").write_text(yaml.safe_dump(older))
    args = ["fit", "--config", CONFIGS / "padded.yaml", "--data.data_dir", tiny_data_dir]
    args += ["--data.val_size", "50", "--trainer.default_root_dir", root, *QUIET]
    args += ["--data.test_time_shifts", "8"]
    result = lstm_mnist(*args, "--trainer.max_epochs", "3", "--ckpt_path", "last", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Resuming from {run / 'checkpoints' / 'last.ckpt'}" in result.stderr + result.stdout
    assert [p.name for p in (root / "lightning_logs").iterdir()] == ["version_0"]
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["trainer"]["max_epochs"] == 3  # the resumed fit's own config
    assert sorted(path.name for path in tmp_path.iterdir()) == ["runs"]


def test_a_runs_config_fed_back_resumes_that_run_or_repeats_it_anew(trained_run, tmp_path, capsys):
    # As config.yaml was written before it recorded `logger: true`: the logger the project chose,
    # with the folder it wrote to (here the original run's, not the copy's).
    root = tmp_path / "runs"
    run = copy_run(trained_run, root)
    config = run / "config.yaml"
    older = yaml.safe_load(config.read_text())
    logger = {"save_dir": str(trained_run.parents[1]), "name": "lightning_logs", "version": None}
    older["trainer"]["logger"] = {"class_path": "lstm_mnist.logger.RunLogger", "init_args": logger}
    config.write_text(yaml.safe_dump(older))
    args = ["fit", "--config", config, "--trainer.default_root_dir", root, *QUIET]
    result = lstm_mnist(*args, "--trainer.max_epochs", "3", "--ckpt_path", "last", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"Resuming from {run / 'checkpoints' / 'last.ckpt'}" in result.stderr + result.stdout
    assert [p.name for p in (root / "lightning_logs").iterdir()] == ["version_0"]
    # the copy's own last.ckpt goes on (a copied or moved run's too), for the next resume
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["epoch"] == 2
    assert not list(run.glob("checkpoints/last-*"))
    assert len(list(run.glob("checkpoints/epoch*.ckpt"))) == 1  # the best, as save_top_k=1 says
    saved = yaml.safe_load(config.read_text())
    assert (saved["trainer"]["logger"], saved["ckpt_path"]) == (True, None)
    # The resumed run's config, fed back without --ckpt_path, is a new run where it is told.
    again = in_process(
        "fit",
        "--config",
        config,
        "--trainer.default_root_dir",
        "again",
        cwd=tmp_path,
        capsys=capsys,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert (
        tmp_path / "again" / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"
    ).is_file()
    assert [p.name for p in (root / "lightning_logs").iterdir()] == ["version_0"]


def test_a_fit_without_a_seed_resumes_and_is_told_its_schedule_stays(tiny_data_dir, tmp_path):
    # Without a seed the fit draws one and its config.yaml records it; the same command with
    # --ckpt_path last must continue that run, not refuse it for the seed. More epochs than the
    # cosine's T_max: the warning must not ask for a T_max that resuming would then refuse.
    args = ["fit", "--config", CONFIGS / "best.yaml", "--seed_everything", "true", *QUIET]
    args += ["--data.data_dir", tiny_data_dir, "--data.val_size", "50"]
    args += ["--lr_scheduler.T_max", "1", "--trainer.default_root_dir", tmp_path / "runs"]
    first = lstm_mnist(*args, "--trainer.max_epochs", "1", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    resumed = lstm_mnist(*args, "--trainer.max_epochs", "2", "--ckpt_path", "last", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Resuming from" in resumed.stderr + resumed.stdout
    assert "a resumed fit keeps it" in resumed.stderr
    assert "to match" not in resumed.stderr
    assert [p.name for p in (tmp_path / "runs" / "lightning_logs").iterdir()] == ["version_0"]


def test_nothing_to_resume_is_said_in_one_line(tiny_data_dir, tmp_path, capsys):
    args = ["fit", "--config", CONFIGS / "default.yaml", "--data.data_dir", tiny_data_dir]
    result = in_process(*args, "--ckpt_path", "last", cwd=tmp_path, capsys=capsys)
    assert result.returncode == 1
    assert_one_line_error(result, "nothing to resume", "without --ckpt_path")
    assert list(tmp_path.iterdir()) == []


def test_what_makes_two_fits_the_same_run():
    saved = {"model": {"hidden_size": 32}, "data": {"data_dir": "a", "pad_width": 14}}
    moved = {"model": {"hidden_size": 32}, "data": {"data_dir": "b", "pad_width": 14}}
    assert differences(run_settings(saved), run_settings(moved)) == []  # the files moved
    other = {"model": {"hidden_size": 40}, "data": {"data_dir": "a", "pad_width": 14}}
    assert differences(run_settings(saved), run_settings(other)) == [
        "model.hidden_size=32 (this fit: 40)"
    ]
    adam = {"class_path": "torch.optim.Adam", "init_args": {"lr": 0.003, "betas": [0.9, 0.999]}}
    assert differences({"optimizer": None}, {"optimizer": adam}) == [
        "optimizer=None (this fit: 'torch.optim.Adam')"  # the class, not all its arguments
    ]


def test_a_log_folder_that_cannot_be_one_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OptionError, match="is a file, not a folder"):
        check_folder(tmp_path / "file", "trainer.default_root_dir")
    with pytest.raises(OptionError, match="is under .*file, a file, not a folder"):
        check_folder(tmp_path / "file" / "runs", "trainer.default_root_dir")
    check_folder(tmp_path / "new" / "runs", "x")
    assert not (tmp_path / "new").exists()  # checked, not made: a later error leaves nothing


def test_resuming_by_path_checks_the_runs_whole_settings(
    trained_run, tiny_data_dir, tmp_path, capsys
):
    # The checkpoint holds the model's and data's settings; the optimizer, scheduler and seed
    # are in the run's config.yaml, and a resume that changes them is refused.
    run = copy_run(trained_run, tmp_path / "runs")
    before = files_of(run)
    args = ["fit", "--config", CONFIGS / "padded.yaml", "--data.data_dir", tiny_data_dir, *QUIET]
    args += ["--data.val_size", "50", "--trainer.max_epochs", "3"]
    args += ["--ckpt_path", run / "checkpoints" / "last.ckpt"]
    for change, named in (
        (["--optimizer", "Adam"], "optimizer.class_path="),
        (["--seed_everything", "1"], "seed_everything="),
    ):
        result = in_process(*args, *change, cwd=tmp_path, capsys=capsys)
        assert_one_line_error(result, f"belongs to {run}", named, "--config")
    assert files_of(run) == before


def test_a_resumed_fit_that_fails_at_its_first_step_leaves_its_run_as_it_was(
    trained_run, tiny_data_dir, tmp_path, capsys
):
    # Its config.yaml is written as training starts; the failure puts it back, and the
    # events file it opened goes.
    root = tmp_path / "runs"
    run = copy_run(trained_run, root)
    before = files_of(run)
    args = ["fit", "--config", CONFIGS / "padded.yaml", "--data.data_dir", tiny_data_dir, *QUIET]
    args += ["--data.val_size", "50", "--trainer.max_epochs", "3", "--ckpt_path", "last"]
    args += [
        "--trainer.default_root_dir",
        root,
        "--trainer.callbacks+=tests.helpers.FailAtFirstStep",
    ]
    with pytest.raises(RuntimeError, match="failed at the first step"):
        in_process(*args, cwd=tmp_path, capsys=capsys)
    assert files_of(run) == before


def test_a_checkpoint_copied_out_of_its_run_resumes_into_a_run_of_its_own(
    trained_run, tiny_data_dir, tmp_path, capsys
):
    # Its record names a best file in the old run; the new run has none until it saves one.
    shutil.copy(trained_run / "checkpoints" / "last.ckpt", tmp_path / "mine.ckpt")
    args = ["fit", "--config", CONFIGS / "padded.yaml", "--data.data_dir", tiny_data_dir, *QUIET]
    args += ["--data.val_size", "50", "--trainer.max_epochs", "3", "--test_after_fit", "true"]
    result = in_process(*args, "--ckpt_path", tmp_path / "mine.ckpt", cwd=tmp_path, capsys=capsys)
    assert result.returncode == 0, result.stderr[-3000:]
    (best,) = (tmp_path / "lightning_logs" / "version_0" / "checkpoints").glob("epoch02-*.ckpt")
    assert "Best checkpoint (val/acc=" in result.stdout
    assert str(best) in result.stdout
