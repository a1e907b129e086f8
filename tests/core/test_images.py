import warnings

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from lstm_mnist.core.data import MNISTDataModule
from lstm_mnist.core.images import (
    MAX_SIDE,
    ImageError,
    expand_paths,
    load_digit,
    mnist_like,
    read_ink,
)
from tests.helpers import draw_seven


def assert_same_digit(path, reference_path) -> None:
    difference = load_digit(path).float() - load_digit(reference_path)
    assert difference.abs().mean() < 8  # of 255: JPEG and resampling blur a little


def ink_box(digit: torch.Tensor, level: int = 60) -> tuple[int, int]:
    rows, cols = np.nonzero(digit.numpy() > level)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


def centre_of_mass(digit: torch.Tensor) -> tuple[float, float]:
    field = digit.double()
    rows, cols = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    return float((rows * field).sum() / field.sum()), float((cols * field).sum() / field.sum())


def test_photo_becomes_an_mnist_like_digit(tmp_path):
    draw_seven().save(tmp_path / "seven.png")
    digit = load_digit(tmp_path / "seven.png")
    assert digit.shape == (28, 28)
    assert digit.dtype == torch.uint8
    assert max(ink_box(digit)) in (20, 21)  # the ink's box fits 20x20, aspect kept
    row, col = centre_of_mass(digit)  # by mass, as far as the field allows for a top-heavy 7
    assert abs(row - 14) <= 2.5
    assert abs(col - 14) <= 0.5


@pytest.mark.parametrize(
    ("name", "image"),
    [
        ("light_on_dark.bmp", draw_seven(ink=255, paper=0)),
        ("grey.jpg", draw_seven(mode="L")),
        ("transparent.png", draw_seven(mode="RGBA")),
        ("big.png", draw_seven().resize((1200, 800))),
    ],
)
def test_any_polarity_mode_and_size_give_the_same_digit(tmp_path, name, image):
    draw_seven().save(tmp_path / "reference.png")
    image.save(tmp_path / name)
    assert_same_digit(tmp_path / name, tmp_path / "reference.png")


def test_a_real_mnist_digit_survives_the_round_trip(real_data_dir):
    dm = MNISTDataModule(data_dir=str(real_data_dir), download=False)
    dm.setup("test")
    correlations = []
    for original in dm.test_set.images[:100]:
        photo = 255 - np.kron(original.numpy(), np.ones((5, 5), np.uint8))  # dark on white, 140px
        again = torch.from_numpy(mnist_like(255 - photo.astype(np.float32)))
        correlations.append(np.corrcoef(original.flatten(), again.flatten())[0, 1])
    # MNIST's own digits come back almost unchanged (a few faint strokes shift the box a little)
    assert np.median(correlations) > 0.98
    assert min(correlations) > 0.7


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "not an image"), (b"hello, not a picture", "not an image"), (None, "broken")],
)
def test_bad_files_are_named(tmp_path, content, reason):
    path = tmp_path / "bad.png"
    if content is None:  # a truncated PNG
        draw_seven().save(path)
        path.write_bytes(path.read_bytes()[:300])
    else:
        path.write_bytes(content)
    with pytest.raises(ImageError, match=f"bad.png.*{reason}"):
        load_digit(path)


def test_blank_and_missing_files(tmp_path):
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    with pytest.raises(ImageError, match=r"blank.png: the image is blank \(no ink to read\)"):
        load_digit(tmp_path / "blank.png")
    with pytest.raises(ImageError, match=r"^the image is blank"):  # an array has no file name
        mnist_like(np.full((5, 5), 7.0))
    with pytest.raises(ImageError, match="nowhere.png: no such file"):
        load_digit(tmp_path / "nowhere.png")


def test_files_folders_and_globs(tmp_path):
    for name in ("b.png", "a.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.bmp").write_bytes(b"x")
    found = expand_paths([str(tmp_path), str(tmp_path / "sub" / "*.bmp"), "missing.png"])
    assert [p.name for p in found] == ["a.jpg", "b.png", "c.bmp", "missing.png"]


@pytest.mark.parametrize(("ink", "paper"), [(60000, 0), (1000, 60000), (1000, 20000)])
def test_a_16_bit_grey_png_is_read_at_full_precision(tmp_path, ink, paper):
    # converted to 8 bits, all these values clip to 255: the light paper would read as blank.
    # Paper at 20000 is light in this image's own range, though darker than half of 65535.
    draw_seven().save(tmp_path / "reference.png")
    is_ink = np.asarray(draw_seven(mode="L")) < 128
    Image.fromarray(np.where(is_ink, ink, paper).astype(np.uint16)).save(tmp_path / "deep.png")
    with Image.open(tmp_path / "deep.png") as deep:
        assert deep.mode == "I;16"
    assert_same_digit(tmp_path / "deep.png", tmp_path / "reference.png")


def test_a_float_tiff_is_read_in_its_own_range(tmp_path):
    draw_seven().save(tmp_path / "reference.png")
    values = np.asarray(draw_seven(mode="L"), np.float32) / 1000  # paper 0.255, ink 0
    Image.fromarray(values).save(tmp_path / "float.tif")
    with Image.open(tmp_path / "float.tif") as image:
        assert image.mode == "F"
    assert_same_digit(tmp_path / "float.tif", tmp_path / "reference.png")


def test_gif_tiff_and_webp_are_read_and_found_in_folders(tmp_path):
    draw_seven().save(tmp_path / "reference.png")
    blank = Image.new("RGB", (300, 200), "white")
    # an animated GIF: its first frame is the digit, the second frame (blank) is not read
    draw_seven().save(tmp_path / "moving.gif", save_all=True, append_images=[blank])
    draw_seven(mode="L").save(tmp_path / "scan.tif")
    draw_seven().save(tmp_path / "multi.tiff", save_all=True, append_images=[blank])
    draw_seven().save(tmp_path / "web.webp", lossless=True)
    names = ["moving.gif", "multi.tiff", "reference.png", "scan.tif", "web.webp"]
    assert [path.name for path in expand_paths([str(tmp_path)])] == names
    for name in names:
        assert_same_digit(tmp_path / name, tmp_path / "reference.png")


def big_photo(size=(6000, 4000)) -> Image.Image:
    """draw_seven at 20 times its size: a phone photo of a digit."""
    image = Image.new("RGB", size, "white")
    pen = ImageDraw.Draw(image)
    pen.line([(800, 600), (2800, 600), (1600, 3400)], fill="black", width=360)
    return image


@pytest.mark.parametrize("name", ["photo.jpg", "photo.png"])
def test_a_big_photo_is_read_shrunk(tmp_path, name):
    draw_seven().save(tmp_path / "reference.png")
    big_photo().save(tmp_path / name)
    ink = read_ink(tmp_path / name)
    assert max(ink.shape) <= MAX_SIDE
    assert ink.dtype == np.float32
    assert ink.shape[0] / ink.shape[1] == pytest.approx(4000 / 6000, abs=0.01)  # aspect kept
    assert_same_digit(tmp_path / name, tmp_path / "reference.png")


def test_images_past_pils_bomb_limits_warn_nothing_or_are_refused_by_name(tmp_path, monkeypatch):
    # PIL warns above MAX_IMAGE_PIXELS and refuses above twice that; a small limit stands in
    # for the real 89 million, so the images stay small
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100_000)
    draw_seven().save(tmp_path / "reference.png")
    draw_seven().resize((450, 300)).save(tmp_path / "large.png")  # 135,000 pixels
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_same_digit(tmp_path / "large.png", tmp_path / "reference.png")
    draw_seven().resize((600, 400)).save(tmp_path / "huge.png")  # 240,000 pixels
    with pytest.raises(ImageError, match=r"huge.png: the image is too large to read \(240,000 p"):
        load_digit(tmp_path / "huge.png")
