from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from lstm_mnist.core.augment import (
    ERASE_AREA,
    TEST_TIME_MOVES,
    _affine_grid,
    _elastic_field,
    random_erase,
    random_warp,
    shifted_views,
)
from lstm_mnist.core.data import MNISTDataModule
from lstm_mnist.core.errors import OptionError
from lstm_mnist.core.model import LSTMClassifier
from lstm_mnist.tools.report import sequences


def square(size: int = 28) -> torch.Tensor:
    images = torch.zeros(64, size, size, dtype=torch.uint8)
    images[:, 10:18, 10:18] = 255
    return images


@pytest.mark.parametrize(("height", "width"), [(28, 28), (28, 42), (7, 5)])
def test_the_sampling_grid_is_affine_grids(height, width):
    theta = torch.randn(6, 2, 3)
    expected = F.affine_grid(theta, [6, 1, height, width], align_corners=False)
    torch.testing.assert_close(_affine_grid(theta, height, width), expected)


def test_no_movement_keeps_the_image():
    images = square()
    torch.testing.assert_close(random_warp(images, 0.0, 0.0), images.float(), atol=0.5, rtol=0)


def test_shifts_stay_within_the_limit_and_differ_per_image():
    torch.manual_seed(0)
    moved = random_warp(square(), max_shift=2.0, max_rotation=0.0)
    assert moved.shape == (64, 28, 28)
    assert moved.dtype == torch.float32
    assert moved.min() >= 0
    assert moved.max() <= 255.001
    # every bright pixel stays within 2 pixels of the square, and the ink is kept
    assert moved[:, :8].sum() == 0
    assert moved[:, 20:].sum() == 0
    assert moved[:, :, :8].sum() == 0
    assert moved[:, :, 20:].sum() == 0
    torch.testing.assert_close(moved.sum((1, 2)), torch.full((64,), 64 * 255.0), rtol=0.02, atol=0)
    assert len({tuple(image.flatten().tolist()) for image in moved}) > 32


def test_rotation_turns_the_image():
    torch.manual_seed(0)
    bar = torch.zeros(16, 28, 28, dtype=torch.uint8)
    bar[:, 13:15, 4:24] = 255  # a horizontal bar: turned, it reaches rows outside 13-14
    turned = random_warp(bar, max_shift=0.0, max_rotation=30.0)
    assert turned[:, :11].sum() > 0 or turned[:, 17:].sum() > 0


def test_flip_mirrors_about_half_of_the_images_and_nothing_else():
    torch.manual_seed(0)
    images = torch.zeros(200, 28, 28, dtype=torch.uint8)
    images[:, 5:20, 2:9] = 255  # a bar on the left
    out = random_warp(images, max_shift=0.0, max_rotation=0.0, flip=True)
    mirrored = out[:, :, 14:].sum((1, 2)) > out[:, :, :14].sum((1, 2))
    assert 70 < mirrored.sum() < 130
    torch.testing.assert_close(out[mirrored], images[mirrored].flip(-1).float(), atol=0.5, rtol=0)
    torch.testing.assert_close(out[~mirrored], images[~mirrored].float(), atol=0.5, rtol=0)


def test_elastic_distortion_bends_each_image_smoothly_and_keeps_its_ink():
    torch.manual_seed(0)
    bent = random_warp(square(), max_shift=0.0, max_rotation=0.0, elastic_alpha=34.0)
    assert not torch.allclose(bent, square().float(), atol=1.0)
    assert len({tuple(image.flatten().tolist()) for image in bent}) == 64
    ink = bent.sum((1, 2)) / (64 * 255.0)  # of the square's; stretched or squeezed locally
    assert 0.9 < ink.mean() < 1.1
    assert ink.min() > 0.3
    assert bent[:, :2].sum() == 0  # nothing drifts far from the square
    # smooth: a pixel's displacement is close to its neighbour's, unlike independent noise
    field = _elastic_field(64, 28, 28, 34.0, "cpu") * 14  # pixels
    step = (field[:, 1:] - field[:, :-1]).norm(dim=-1).mean()
    assert step < 0.2 * field.norm(dim=-1).mean()
    assert 0.5 < field.norm(dim=-1).mean() < 3  # about a pixel or two at Simard et al.'s alpha


def loader_batch(dm: MNISTDataModule, stage: str) -> torch.Tensor:
    loader = getattr(dm, f"{stage}_dataloader")()
    images, labels = next(iter(loader))
    return dm.on_after_batch_transfer((images, labels), 0)[0]


class FakeTrainer:
    def __init__(self, training: bool, command: str = "fit") -> None:
        self.training, self.world_size = training, 1
        self.state = SimpleNamespace(fn=command)


def test_erasing_blanks_one_rectangle_of_the_drawn_size_in_the_chosen_images():
    torch.manual_seed(0)
    ink = torch.full((500, 28, 28), 255, dtype=torch.uint8)
    erased = random_erase(ink, 0.5) == 0
    blanked = erased.flatten(1).sum(1)
    assert 0.4 < (blanked > 0).float().mean() < 0.6  # about half the images are chosen
    low, high = (fraction * 28 * 28 for fraction in ERASE_AREA)
    sizes = blanked[blanked > 0]
    # Each side is rounded (and kept within the image), so the area can miss the range a little.
    assert sizes.min() >= low / 2
    assert sizes.max() <= high * 1.3
    for mask in erased[blanked > 0][:50]:  # one solid rectangle: its bounding box, all blank
        rows, columns = mask.any(1).nonzero(), mask.any(0).nonzero()
        box = mask[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1]
        assert box.all()
    assert torch.equal(random_erase(ink, 0.0), ink)


@pytest.mark.parametrize(
    "augmentation",
    [
        {"max_shift": 3.0, "max_rotation": 15.0},
        {"horizontal_flip": True},
        {"elastic_alpha": 34.0},
        {"erase_probability": 1.0},
    ],
)
def test_only_training_batches_are_augmented(tiny_data_dir, augmentation):
    dm = MNISTDataModule(str(tiny_data_dir), val_size=50, **augmentation)
    dm.setup("fit")
    plain = MNISTDataModule(str(tiny_data_dir), val_size=50)
    plain.setup("fit")
    for training in (True, False):
        dm.trainer = plain.trainer = FakeTrainer(training)
        same = torch.equal(loader_batch(dm, "val"), loader_batch(plain, "val"))
        assert same != training


def test_test_time_views_are_the_image_then_its_one_pixel_moves():
    images = torch.randint(1, 256, (3, 28, 28), dtype=torch.uint8)  # no background within
    views = shifted_views(images, 8)
    assert views.shape == (9, 3, 28, 28)
    assert views.dtype == torch.uint8
    assert torch.equal(views[0], images)
    framed = F.pad(images, (1, 1, 1, 1))  # a border of background around each image
    for view, (dx, dy) in zip(views[1:], TEST_TIME_MOVES, strict=True):
        # Moved dx right and dy down: pixel (y, x) shows what was at (y - dy, x - dx).
        assert torch.equal(view, framed[:, 1 - dy : 29 - dy, 1 - dx : 29 - dx])
    assert len(set(TEST_TIME_MOVES)) == 8
    assert {abs(d) for m in TEST_TIME_MOVES for d in m} == {0, 1}
    assert torch.equal(shifted_views(images, 4), views[:5])  # the 4 sides come first


@pytest.mark.parametrize(
    ("command", "training", "views"),
    [("fit", True, 0), ("fit", False, 0), ("validate", False, 5), ("test", False, 5)]
    + [("predict", False, 5)],
)
def test_only_evaluation_commands_read_the_test_time_moves(tiny_data_dir, command, training, views):
    # Fit's own validation reads the images as they are: it picks the checkpoint, and it should
    # cost what it did.
    dm = MNISTDataModule(str(tiny_data_dir), val_size=50, test_time_shifts=4)
    dm.setup("fit")
    dm.trainer = FakeTrainer(training, command)
    batch = loader_batch(dm, "train" if training else "val")
    if not views:
        assert batch.shape == (128 if training else 50, 28, 28)
        return
    plain = MNISTDataModule(str(tiny_data_dir), val_size=50)
    plain.setup("fit")
    plain.trainer = FakeTrainer(False, command)
    assert batch.shape == (5, 50, 28, 28)
    assert torch.equal(batch[0], loader_batch(plain, "val"))
    moved = shifted_views(dm.val_set.images, 4)[1:]
    assert torch.equal(batch[1:], torch.stack([plain.to_sequences(images) for images in moved]))


@pytest.mark.parametrize(
    ("option", "value"), [("max_shift", 14.0), ("max_rotation", -1.0), ("erase_probability", 1.5)]
)
def test_bad_augmentation_options_name_the_option(option, value):
    with pytest.raises(OptionError, match=option):
        MNISTDataModule(**{option: value})


def test_scoring_helpers_never_augment_even_while_a_fit_trains(tiny_data_dir):
    # The test report and the benchmark's time-to-accuracy score digits from callbacks, while
    # the trainer may be training: the training augmentation must not touch those digits.
    def data_module(**augmentation) -> MNISTDataModule:
        data = MNISTDataModule(data_dir=str(tiny_data_dir), download=False, **augmentation)
        data.setup("test")
        return data

    augmenting = data_module(max_shift=3, max_rotation=15.0)
    augmenting.trainer = SimpleNamespace(training=True)
    images = augmenting.test_set.images[:8]
    scored = sequences(LSTMClassifier(), augmenting, images)
    assert torch.equal(scored, data_module().to_sequences(images))
