"""ImageToSequence: the one place where an image becomes the model's input."""

import pytest
import torch

from lstm_mnist.core.sequence import PIXEL_STATS, ImageToSequence, fixed_permutation, sequence_shape

IMAGES = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)


SCANS = ["rows", "columns", "pixels", "permuted"]


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize(("pad_width", "crop"), [(0, 0), (14, 0), (0, 2), (14, 3)])
def test_every_scan_has_the_shape_the_model_is_built_for(scan, pad_width, crop):
    sequences = ImageToSequence(scan, pad_width, crop=crop)(IMAGES)
    assert sequences.shape == (3, *sequence_shape(scan, pad_width, crop))
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


def test_a_crop_reads_the_centre_in_fewer_shorter_rows():
    x = IMAGES.float() / 255
    assert torch.equal(ImageToSequence("rows", crop=2)(IMAGES), x[:, 2:26, 2:26])
    assert sequence_shape("rows", crop=2) == (24, 24)
    assert sequence_shape("pixels", crop=2) == (576, 1)


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("crop", [0, 2])
def test_step_of_pixel_is_where_forward_puts_each_pixel(scan, crop):
    transform = ImageToSequence(scan, crop=crop)
    ids = torch.arange(28 * 28, dtype=torch.float32).reshape(1, 28, 28)  # pixel p has value p
    sequence = transform(ids * 255).round().long()[0]  # forward divides by 255
    steps = transform.step_of_pixel()
    for step in (0, 5, len(sequence) - 1):
        read = torch.nonzero(steps.flatten() == step).flatten()
        assert sorted(sequence[step].tolist()) == read.tolist()
    never = steps == len(sequence)  # cut off by the crop: not read at any step
    assert int(never.sum()) == 28 * 28 - sequence.numel()
    if crop:
        assert never[0].all()
        assert never[:, -1].all()
        assert not never[crop, crop]
