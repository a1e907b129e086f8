"""TensorBoard report after test, and `explain`, on a run fitted on tiny data."""

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lstm_mnist.cli import cli_main, run_cli
from tests.helpers import PROJECT_ROOT

DEFAULT = str(PROJECT_ROOT / "configs" / "default.yaml")
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


@pytest.fixture(scope="module")
def fitted_run(tiny_data_dir, tmp_path_factory):
    """A one-epoch fit on tiny data, tested after fit: (run folder, best checkpoint)."""
    workdir = tmp_path_factory.mktemp("run")
    args = [
        "fit",
        "--config",
        DEFAULT,
        "--data.data_dir",
        str(tiny_data_dir),
        "--data.val_size",
        "50",
        "--trainer.max_epochs",
        "1",
        "--test_after_fit",
        "true",
        "--trainer.default_root_dir",
        str(workdir),
        *QUIET,
    ]
    cli = run_cli(args)
    return workdir / "lightning_logs" / "version_0", cli.trainer.checkpoint_callback.best_model_path


def test_tensorboard_shows_report_hparams_learning_rate_and_graph(fitted_run):
    events = EventAccumulator(str(fitted_run[0]), size_guidance={"images": 0}).Reload()
    tags = events.Tags()
    assert {"test/confusion_matrix", "test/misclassified", "test/reading"} <= set(tags["images"])
    assert {"hp/test_acc", "hp/best_val_acc", "lr-RMSprop"} <= set(tags["scalars"])
    assert tags["graph"]
    assert "_hparams_/experiment" in events.PluginTagToContent("hparams")


def explain(fitted_run, data_dir, *options: str) -> None:
    cli_main(["explain", "--ckpt_path", fitted_run[1], "--data_dir", str(data_dir), *options])


def test_explain_writes_the_reading_figure(fitted_run, tiny_data_dir, tmp_path, capsys):
    out = tmp_path / "reading.png"
    explain(fitted_run, tiny_data_dir, "--index", "[0, 5]", "--out", str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "test[0] (label 0): answers" in printed
    assert "test[5] (label 5)" in printed


def test_explain_rejects_indices_outside_the_test_set(fitted_run, tiny_data_dir):
    with pytest.raises(SystemExit, match=r"explain option index=\[100000\] must be in \[0, 69\]"):
        explain(fitted_run, tiny_data_dir, "--index", "[100000]")
