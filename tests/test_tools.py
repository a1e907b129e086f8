"""TensorBoard report after test, `explain` and `export` on a run fitted on tiny data."""

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lstm_mnist.cli import cli_main
from lstm_mnist.data import MNISTDataModule
from lstm_mnist.export import image_classifier
from tests.conftest import PROJECT_ROOT

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
        "--trainer.logger.init_args.save_dir",
        str(workdir),
        *QUIET,
    ]
    cli = cli_main(args)
    return workdir / "lightning_logs" / "version_0", cli.trainer.checkpoint_callback.best_model_path


def test_tensorboard_shows_report_hparams_learning_rate_and_graph(fitted_run):
    events = EventAccumulator(str(fitted_run[0]), size_guidance={"images": 0}).Reload()
    tags = events.Tags()
    assert {"test/confusion_matrix", "test/misclassified", "test/reading"} <= set(tags["images"])
    assert {"hp/test_acc", "hp/best_val_acc", "lr-RMSprop"} <= set(tags["scalars"])
    assert tags["graph"] and "_hparams_/experiment" in events.PluginTagToContent("hparams")


def explain(fitted_run, data_dir, *options: str) -> None:
    cli_main(["explain", "--ckpt_path", fitted_run[1], "--data_dir", str(data_dir), *options])


def test_explain_writes_the_reading_figure(fitted_run, tiny_data_dir, tmp_path, capsys):
    out = tmp_path / "reading.png"
    explain(fitted_run, tiny_data_dir, "--index", "[0, 5]", "--out", str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "test[0] (label 0): answers" in printed and "test[5] (label 5)" in printed


def test_explain_rejects_indices_outside_the_test_set(fitted_run, tiny_data_dir):
    with pytest.raises(SystemExit, match=r"explain option index=\[100000\] must be in \[0, 69\]"):
        explain(fitted_run, tiny_data_dir, "--index", "[100000]")


def test_onnx_export_matches_pytorch_on_real_digits(fitted_run, real_data_dir, tmp_path):
    onnxruntime = pytest.importorskip("onnxruntime")
    out = tmp_path / "model.onnx"
    cli_main(["export", "--ckpt_path", fitted_run[1], "--format", "onnx", "--out", str(out)])
    data = MNISTDataModule(data_dir=str(real_data_dir), download=False)
    data.setup("test")
    classifier = image_classifier(fitted_run[1]).eval()
    session = onnxruntime.InferenceSession(str(out))
    for size in (1, 37):  # the batch axis is dynamic
        images = data.test_set.images[:size].float()
        (logits,) = session.run(None, {"images": images.numpy()})
        with torch.inference_mode():
            expected = classifier(images).numpy()
        np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=0)
