"""`lstm-mnist export`, run as a user runs it: one self-contained ONNX file, a quiet console."""

import shutil

import numpy as np
import onnxruntime  # a dev dependency: the parity test must run, never skip
import pytest
import torch

from lstm_mnist.cli.main import cli_main
from lstm_mnist.core.data import MNISTDataModule
from lstm_mnist.core.model import LSTMClassifier
from lstm_mnist.runs.checkpoint import PRETRAINED
from lstm_mnist.tools.export import image_classifier, onnx_program
from tests.helpers import best_checkpoint, lstm_mnist


def test_export_writes_one_file_that_alone_matches_pytorch(trained_run, tmp_path):
    ckpt = best_checkpoint(trained_run)
    out = tmp_path / "a" / "model.onnx"  # its folder does not exist yet
    result = lstm_mnist("export", "--ckpt_path", ckpt, "--out", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    for noise in ("Traceback", "Warning", "warn"):  # torch.export's and the exporter's chatter
        assert noise not in result.stderr, result.stderr[-3000:]
    assert result.stdout.splitlines() == [f"wrote {out}"]
    assert [path.name for path in out.parent.iterdir()] == ["model.onnx"]  # no model.onnx.data

    alone = tmp_path / "copied"  # the file by itself is the model
    alone.mkdir()
    shutil.copy(out, alone / "model.onnx")
    session = onnxruntime.InferenceSession(str(alone / "model.onnx"))
    assert_onnx_matches(session, image_classifier(str(ckpt)).eval())


def test_export_to_a_folder_is_one_error_line_naming_it(trained_run, tmp_path, capsys):
    # In-process: the CLI's one-line errors are tested through the script elsewhere.
    folder = tmp_path / "models"
    folder.mkdir()
    ckpt = best_checkpoint(trained_run)
    with pytest.raises(SystemExit) as exit_:
        cli_main(["export", "--ckpt_path", str(ckpt), "--out", str(folder)])
    message = f"{exit_.value.code}{capsys.readouterr().err}"
    assert message.startswith("error: ")
    assert str(folder) in message
    assert "it is a folder" in message
    assert "Traceback" not in message
    assert list(folder.iterdir()) == []
    with pytest.raises(
        SystemExit, match=r"--out='.*model.txt': an ONNX model's file ends in .onnx"
    ):
        cli_main(["export", "--ckpt_path", str(ckpt), "--out", str(folder / "model.txt")])
    assert list(folder.iterdir()) == []


def test_the_hierarchical_reader_exports_with_a_dynamic_batch(tmp_path):
    # Its row reader folds the batch into the rows (batch x 28 sequences): the graph must too.
    torch.manual_seed(0)
    model = LSTMClassifier(hidden_size=8, num_layers=1, row_hidden_size=4, init="keras")
    classifier = torch.nn.Sequential(MNISTDataModule().transform, model).eval()
    path = tmp_path / "model.onnx"
    onnx_program(classifier).save(path, external_data=False)
    assert_onnx_matches(onnxruntime.InferenceSession(str(path)), classifier)


def assert_onnx_matches(session: onnxruntime.InferenceSession, classifier: torch.nn.Module) -> None:
    """The ONNX logits are PyTorch's, for batches of 1 and 37 (the batch axis is dynamic)."""
    rng = np.random.default_rng(0)
    for size in (1, 37):
        images = rng.integers(0, 256, (size, 28, 28)).astype(np.float32)
        (logits,) = session.run(["logits"], {"images": images})
        with torch.inference_mode():
            expected = classifier(torch.from_numpy(images)).numpy()
        np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=0)


def test_export_without_a_checkpoint_copies_the_packaged_model(tmp_path):
    out = tmp_path / "model.ckpt"
    result = lstm_mnist("export", "--format", "ckpt", "--out", out, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Using the pretrained model in the package (robust.ckpt" in result.stderr
    assert f"wrote {out}" in result.stdout
    copied = torch.load(out, map_location="cpu", weights_only=True)
    packaged = torch.load(PRETRAINED, map_location="cpu", weights_only=True)
    assert copied["state_dict"].keys() == packaged["state_dict"].keys()
    for name, tensor in packaged["state_dict"].items():
        assert torch.equal(copied["state_dict"][name], tensor), name
