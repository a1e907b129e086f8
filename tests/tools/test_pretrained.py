"""The model in the box: it ships small and clean, scores as recorded, and serves every door."""

import re

import torch

from lstm_mnist import Classifier
from lstm_mnist.runs.checkpoint import PRETRAINED, load_run, read_checkpoint
from tests.helpers import assert_one_line_error, best_checkpoint, draw_seven, lstm_mnist

RECORD = PRETRAINED.with_suffix(".md")  # how it was made and what it scores, beside it


def recorded(what: str) -> str:
    """A value the record states as ``- <what>: <value>``."""
    (value,) = re.findall(rf"^- {re.escape(what)}: (.+)$", RECORD.read_text(), re.M)
    return value


def test_the_packaged_model_is_small_and_names_no_machine():
    assert PRETRAINED.stat().st_size < 1_000_000
    checkpoint = read_checkpoint(PRETRAINED)
    assert set(checkpoint) <= {
        "state_dict", "hyper_parameters", "datamodule_hyper_parameters",
        "pytorch-lightning_version", "epoch", "global_step",
    }  # fmt: skip
    assert "data_dir" not in checkpoint["datamodule_hyper_parameters"]
    assert not re.search(rb"/(work|home|tmp|root|Users)/", PRETRAINED.read_bytes())
    assert recorded("config") == "configs/robust.yaml"


def test_the_packaged_model_scores_as_recorded_on_mnists_test_digits(real_data_dir):
    model, data = load_run(PRETRAINED, str(real_data_dir))
    data.prepare_data()
    data.setup("test")
    count = int(recorded("MNIST test digits 0-1999, read as its test reads them").split()[0])
    images, labels = data.test_set.images[:2000], data.test_set.labels[:2000]
    with torch.inference_mode():
        views = data.to_sequences(images, test_time_shifts=data.test_time_shifts)
        right = (model(views).argmax(dim=-1) == labels).sum()
    assert int(right) == count


def test_predict_without_a_checkpoint_reads_with_the_packaged_model(tmp_path):
    draw_seven().save(tmp_path / "seven.png")
    result = lstm_mnist("predict", "--data.predict_files", "seven.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "the pretrained model in the package" in result.stderr + result.stdout
    assert "seven.png: 7 (p=" in result.stdout
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seven.png"]  # nothing written


def test_test_and_validate_still_name_their_checkpoint(tmp_path):
    result = lstm_mnist("test", cwd=tmp_path)
    assert_one_line_error(result, "test needs a trained model: pass --ckpt_path")


def test_classifier_pretrained_reads_a_seven():
    result = Classifier.pretrained().predict(draw_seven())
    assert result.classes.tolist() == [7]


def test_export_writes_a_checkpoint_that_travels(trained_run, tmp_path):
    result = lstm_mnist(
        "export", "--ckpt_path", best_checkpoint(trained_run), "--format", "ckpt",
        "--out", "model.ckpt", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    slim = read_checkpoint(tmp_path / "model.ckpt")
    assert "optimizer_states" not in slim
    assert "data_dir" not in slim["datamodule_hyper_parameters"]
    assert str(trained_run.parents[2]).encode() not in (tmp_path / "model.ckpt").read_bytes()
    full = Classifier(best_checkpoint(trained_run)).predict(draw_seven())
    travelled = Classifier(tmp_path / "model.ckpt").predict(draw_seven())
    assert torch.equal(full.probabilities, travelled.probabilities)
