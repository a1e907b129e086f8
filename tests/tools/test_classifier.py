"""The Python door: Classifier reads files, PIL images, arrays and tensors, each the same way."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lstm_mnist import Classifier, Predictions
from lstm_mnist.core.idx import load_split
from lstm_mnist.core.images import ImageError
from lstm_mnist.runs.checkpoint import PRETRAINED
from tests.helpers import PROJECT_ROOT, best_checkpoint, draw_seven


def test_every_kind_of_image_is_one_digit_read_the_same_way(trained_run, tmp_path):
    seven = draw_seven()
    seven.save(tmp_path / "seven.png")
    grey = np.asarray(seven.convert("L"))  # dark ink on light paper, as the file
    classifier = Classifier.from_checkpoint(best_checkpoint(trained_run))  # padded: 42 features
    result = classifier.predict(
        [
            tmp_path / "seven.png",
            str(tmp_path / "seven.png"),
            seven,
            grey,
            torch.from_numpy(grey.copy()),
        ]
    )
    assert isinstance(result, Predictions)
    assert result.probabilities.shape == (5, 10)
    assert torch.allclose(result.probabilities.sum(dim=1), torch.ones(5))
    assert len(set(result.classes.tolist())) == 1  # the same digit, however it came
    assert torch.equal(result.digits[0], result.digits[3])
    assert result.names == [str(c) for c in result.classes.tolist()]
    batch = classifier.predict(np.stack([grey, 255 - grey]))  # a batch; either polarity
    assert batch.classes.tolist() == [result.classes[0]] * 2


def test_a_cropped_checkpoint_reads_through_its_crop(cropped_checkpoint):
    classifier = Classifier(cropped_checkpoint, "cropped")
    reading = classifier.read(draw_seven())
    assert reading.probs.shape == (24, 10)  # 24 rows of the central 24x24
    assert reading.name == "cropped"


def test_last_and_best_name_the_newest_runs_checkpoints(trained_run, tmp_path, monkeypatch):
    monkeypatch.chdir(trained_run.parents[1])  # the root folder that holds lightning_logs/
    assert Classifier("best").path == best_checkpoint(trained_run)
    assert Classifier("last").path == trained_run / "checkpoints" / "last.ckpt"


def test_a_blank_image_is_one_error_without_a_file_name():
    classifier = Classifier.from_checkpoint(PRETRAINED)
    with pytest.raises(ValueError, match="the image is blank"):
        classifier.predict(Image.new("L", (50, 50), 255))


def test_the_readmes_python_runs_as_written(real_data_dir, tmp_path, monkeypatch):
    # The README's five lines, with its file names made here: a drawn seven, a PIL image, an
    # array and a tensor (MNIST's first test digits).
    monkeypatch.chdir(tmp_path)
    draw_seven().save("seven.png")
    images, _ = load_split(real_data_dir / "MNIST" / "raw", "mnist", "test")
    namespace = {
        "pil_image": Image.fromarray(images[0].numpy()),
        "numpy_array": images[1].numpy(),
        "torch_tensor": images[2],
    }
    readme = (PROJECT_ROOT / "README.md").read_text()
    (snippet,) = re.findall(r"```python\n(from lstm_mnist import Classifier.*?)```", readme, re.S)
    exec(snippet, namespace)  # noqa: S102  (the README's own code, as a reader runs it)
    result = namespace["result"]
    assert result.classes.tolist() == [7, 7, 2, 1]  # the drawn 7, then test[0..2]: 7, 2, 1


def test_the_readmes_plain_lightning_way_tests_a_checkpoint(fitted_run, tmp_path, monkeypatch):
    # The README's Lightning lines as written: the model and the data module from a checkpoint,
    # the data found where the fit found it (an absolute path), from another folder.
    monkeypatch.chdir(tmp_path)
    readme = (PROJECT_ROOT / "README.md").read_text()
    (snippet,) = re.findall(r"```python\n(import lightning\n.*?)```", readme, re.S)
    namespace = {"path": str(fitted_run[1])}
    exec(snippet, namespace)  # noqa: S102  (the README's own code, as a reader runs it)
    model, data = namespace["model"], namespace["data"]
    assert model.hparams.hidden_size == 32
    assert Path(data.hparams.data_dir).is_absolute()
    (scores,) = namespace["scores"]
    assert 0 <= scores["test/acc"] <= 1  # the test ran and counted
    assert list(tmp_path.iterdir()) == []  # logger=False: nothing written here


def test_colour_arrays_and_channel_first_tensors_are_one_image_each():
    classifier = Classifier.pretrained()
    rgb = np.array(draw_seven())  # (H, W, 3) uint8, dark ink on white
    as_float = rgb.astype(np.float32) / 255  # a colour array in 0-1
    channels_first = torch.from_numpy(rgb).permute(2, 0, 1)  # torch's (3, H, W)
    grey = torch.from_numpy(np.array(draw_seven().convert("L")))[None]  # (1, H, W)
    result = classifier.predict([rgb, as_float, channels_first, grey])
    assert result.classes.tolist() == [7, 7, 7, 7]
    assert classifier.predict(rgb).classes.tolist() == [7]  # alone: one image, not H of them
    says = re.escape("grey (H, W) or colour (H, W, 3 or 4); this one is (2, 5, 5, 5)")
    with pytest.raises(ImageError, match=says):
        classifier.predict([np.zeros((2, 5, 5, 5))])
