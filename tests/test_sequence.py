"""ImageToSequence: the one place where an image becomes the model's input."""

import pytest
import torch

from lstm_mnist.sequence import PIXEL_STATS, ImageToSequence, fixed_permutation, sequence_shape

IMAGES = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)


@pytest.mark.parametrize("scan", ["rows", "columns", "pixels", "permuted"])
@pytest.mark.parametrize("pad_width", [0, 14])
def test_every_scan_has_the_shape_the_model_is_built_for(scan, pad_width):
    sequences = ImageToSequence(scan, pad_width)(IMAGES)
    assert sequences.shape == (3, *sequence_shape(scan, pad_width))
    assert sequences.dtype == torch.float32
    if pad_width:  # exact zeros after each step's pixels, whatever the normalisation
        assert torch.count_nonzero(sequences[..., -pad_width:]) == 0


def test_rows_columns_and_the_fixed_permutation():
    x = IMAGES.float() / 255
    assert torch.equal(ImageToSequence("rows")(IMAGES), x)
    assert torch.equal(ImageToSequence("columns")(IMAGES), x.transpose(1, 2))
    order = fixed_permutation(3)
    permuted = ImageToSequence("permuted", permutation_seed=3)(IMAGES)
    assert torch.equal(permuted[..., 0], x.reshape(3, -1)[:, order])


def test_standardize_uses_the_datasets_training_statistics():
    mean, std = PIXEL_STATS["fashion_mnist"]
    out = ImageToSequence(normalization="standardize", mean_std=(mean, std))(IMAGES)
    assert torch.allclose(out, (IMAGES.float() / 255 - mean) / std)


def test_the_permutation_moves_with_the_module_and_is_not_saved():
    transform = ImageToSequence("permuted")
    assert transform.to("meta").permutation.device.type == "meta"
    assert transform.state_dict() == {}  # a checkpoint's settings rebuild it
    images = IMAGES.clone()
    ImageToSequence("rows", normalization="standardize")(images)
    assert torch.equal(images, IMAGES)  # the input is never changed in place
