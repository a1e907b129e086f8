"""A person's digit image -> a 28x28 uint8 digit prepared the way MNIST's own were made.

MNIST digits are light ink on black, the ink's bounding box scaled to fit 20x20 (aspect ratio
kept, anti-aliased) and placed in a 28x28 field so that its centre of mass is at the centre.
A model trained on them sees a photo of a digit correctly only after the same steps.
"""

import glob
import re
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
FORMATS = "PNG, JPEG, BMP, GIF, TIFF, WebP"
# The digit ends up 20x20, so a photo is read at most this big: a 10000x10000 one would
# otherwise take gigabytes as float32.
MAX_SIDE = 1024
_BOX, _FIELD = 20, 28
_INK = 0.25  # a pixel is ink when brighter than this fraction of the brightest one
# Modes read at full precision: converting a 16-bit or float image to "L" clips it at 255.
_WIDE_MODES = ("I;16", "I", "F")
_RESIZABLE_MODES = ("L", "LA", "RGB", "RGBA", *_WIDE_MODES)


class ImageError(ValueError):
    """A file could not be read as a digit image; the message names the file."""


def expand_paths(patterns: list[str]) -> list[Path]:
    """Files, folders (their images, sorted) and glob patterns -> image paths, in order."""
    paths: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir():
            paths += sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif any(char in pattern for char in "*?["):
            matches = sorted(glob.glob(pattern, recursive=True))
            # a pattern that matched nothing is reported by name like a missing file
            paths += [Path(match) for match in matches] or [path]
        else:
            paths.append(path)  # missing files are reported when loaded, by name
    return paths


def load_digit(path: str | Path) -> torch.Tensor:
    """Read an image file as an MNIST-like digit.

    Args:
        path: A PNG, JPEG, BMP, GIF (its first frame), TIFF or WebP file; any size (read shrunk
            to at most ``MAX_SIDE`` pixels a side); grey (8 or 16 bit, or float), RGB or RGBA.

    Returns:
        A 28x28 uint8 tensor, light ink on black.

    Raises:
        ImageError: The file is missing, unreadable, too large for PIL, or blank; the message
            names it.
    """
    path = Path(path)
    ink = read_ink(path)
    try:
        digit = mnist_like(ink)
    except ImageError as err:  # mnist_like sees an array, not a file: name the file here
        raise ImageError(f"{path}: {err}") from None
    return torch.from_numpy(digit)


def image_digit(image: Image.Image) -> torch.Tensor:
    """An image already open (a drawing on the demo page) -> the 28x28 digit ``load_digit`` makes.

    Raises:
        ImageError: The image has no ink; the message has no file name.
    """
    return torch.from_numpy(mnist_like(_ink(_shrunk(_resizable(_loaded_small(image))))))


def array_digit(image: np.ndarray) -> torch.Tensor:
    """An image as an array (grey H x W, or colour H x W x 3 or 4; any polarity) -> the digit.

    Raises:
        ImageError: The image has no ink, or the array is no image's shape; no file name.
    """
    array = np.asarray(image)
    colour = array.ndim == 3 and array.shape[-1] in (3, 4)
    if colour and array.dtype == np.uint8:
        return image_digit(Image.fromarray(array))  # as a file's pixels: alpha over white
    if colour:
        array = array[..., :3] @ np.array([0.299, 0.587, 0.114])  # PIL's grey
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ImageError(
            f"an image array must be grey (H, W) or colour (H, W, 3 or 4); this one is "
            f"{tuple(array.shape)}"
        )
    return torch.from_numpy(mnist_like(_light_on_dark(array.astype(np.float32))))


def mnist_like(ink: np.ndarray) -> np.ndarray:
    """Ink intensities (H, W; light ink on dark, any scale) -> a 28x28 uint8 MNIST-style digit.

    Raises:
        ImageError: There is no ink (every pixel is the same); the message has no file name.
    """
    ink = _without_paper(ink.astype(np.float32) - ink.min())
    if ink.max() <= 0:
        raise ImageError("the image is blank (no ink to read)")
    rows, cols = np.nonzero(ink > _INK * ink.max())
    crop = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    crop = (255 * crop / crop.max()).astype(np.uint8)
    height, width = crop.shape
    scale = _BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    boxed = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.LANCZOS), np.float32)
    field = np.zeros((_FIELD, _FIELD), np.float32)
    top, left = (_FIELD - size[1]) // 2, (_FIELD - size[0]) // 2
    field[top : top + size[1], left : left + size[0]] = boxed
    return _centre_by_mass(field, top, left, size).clip(0, 255).round().astype(np.uint8)


def _without_paper(ink: np.ndarray) -> np.ndarray:
    """The ink alone: the paper's level and grain, read off the image's border, taken away.

    MNIST's background is exactly 0. A scan's or a photo's paper is not (grey, grainy, unevenly
    lit), and left in, the model reads the faint background as strokes: most such digits became
    8s (docs/robust.md). Whatever is no brighter than the border's median plus three times its
    spread is paper. A drawing on a blank canvas, or an MNIST digit, has a border of 0 and keeps
    every pixel.
    """
    border = np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]])
    level = np.median(border)
    spread = 1.4826 * np.median(np.abs(border - level))  # the grain's std, robust to ink
    return np.clip(ink - (level + 3 * spread), 0, None)


def read_ink(path: Path) -> np.ndarray:
    """An image file's ink as float32 (H, W), light on dark, at most ``MAX_SIDE`` a side.

    Raises:
        ImageError: The file is missing, not an image, broken or too large; the message names it.
    """
    try:
        with warnings.catch_warnings():
            # Up to PIL's hard limit a big photo is read shrunk, cheaply: the warning PIL gives
            # above half that limit would only alarm the user.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return _ink(_shrunk(_resizable(_loaded_small(image))))
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image PIL can read ({FORMATS})") from None
    except Image.DecompressionBombError as err:
        raise ImageError(f"{path}: {_too_large(err)}") from None
    except OSError as err:  # truncated or corrupt data
        raise ImageError(f"{path}: the image data is broken ({err})") from None
    except ValueError as err:  # a colour mode PIL cannot turn into grey, e.g. LAB
        raise ImageError(f"{path}: PIL cannot read its colours as grey ({err})") from None


def _too_large(err: Image.DecompressionBombError) -> str:
    """PIL's refusal of a huge image (it could be a decompression bomb), said for a person."""
    pixels = re.search(r"\((\d+) pixels\)", str(err))  # PIL names the size only in its text
    size = f"{int(pixels[1]):,} pixels" if pixels else str(err)
    limit = 2 * (Image.MAX_IMAGE_PIXELS or 0)
    return (
        f"the image is too large to read ({size}, over {limit:,}); save it smaller, e.g. 4000x3000"
    )


def _loaded_small(image: Image.Image) -> Image.Image:
    """The first frame, decoded; a JPEG is decoded at 1/2-1/8 scale when still > MAX_SIDE."""
    image.draft("L", (MAX_SIDE, MAX_SIDE))  # a no-op for formats other than JPEG
    image.load()
    return image


def _resizable(image: Image.Image) -> Image.Image:
    """The image in a mode that resizes by averaging, keeping its alpha and its precision."""
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info:
        # before resizing: a palette index or a transparent colour key cannot be averaged
        return image.convert("RGBA")
    if image.mode in _RESIZABLE_MODES:
        return image
    if image.mode.startswith("I;16"):  # I;16B, I;16L...: resizable once widened to 32 bits
        return image.convert("I")
    return image.convert("L")  # palette, 1-bit, CMYK, YCbCr...


def _shrunk(image: Image.Image) -> Image.Image:
    """At most MAX_SIDE on the longer side; BOX averages, so thin strokes fade but stay."""
    longer = max(image.size)
    if longer <= MAX_SIDE:
        return image
    width, height = image.size
    size = (max(1, round(width * MAX_SIDE / longer)), max(1, round(height * MAX_SIDE / longer)))
    return image.resize(size, Image.Resampling.BOX)


def _ink(image: Image.Image) -> np.ndarray:
    if image.mode in ("RGBA", "LA"):
        alpha = np.asarray(image.getchannel("A"))
        if alpha.min() < 255:  # drawn on a transparent background: the alpha is the ink
            return alpha.astype(np.float32)
    if image.mode in _WIDE_MODES:
        return _light_on_dark(np.asarray(image, np.float32))
    return _light_on_dark(np.asarray(image.convert("L"), np.float32))


def _light_on_dark(grey: np.ndarray) -> np.ndarray:
    """MNIST is light on dark; dark ink on light paper (the usual photo or scan) is inverted.

    The paper is the border's median; it is light when above the middle of the image's own
    range, whatever its scale (8 bit, 16 bit, float).
    """
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    low, high = float(grey.min()), float(grey.max())
    return high - grey if np.median(border) > (low + high) / 2 else grey


def _centre_by_mass(field: np.ndarray, top: int, left: int, size: tuple[int, int]) -> np.ndarray:
    rows, cols = np.indices(field.shape)
    total = field.sum()
    # MNIST's digits have their centre of mass at (14, 14), 0-indexed. Unlike MNIST we never
    # push ink out of the field: a top-heavy 7 would lose its foot.
    shift_rows = round(_FIELD / 2 - (rows * field).sum() / total)
    shift_cols = round(_FIELD / 2 - (cols * field).sum() / total)
    shift_rows = min(max(shift_rows, -top), _FIELD - top - size[1])
    shift_cols = min(max(shift_cols, -left), _FIELD - left - size[0])
    shifted = np.zeros_like(field)
    src_r, dst_r = _overlap(shift_rows)
    src_c, dst_c = _overlap(shift_cols)
    shifted[dst_r, dst_c] = field[src_r, src_c]
    return shifted


def _overlap(shift: int) -> tuple[slice, slice]:
    """Source and destination slices that move a 28-long axis by ``shift`` without wrapping."""
    if shift >= 0:
        return slice(0, _FIELD - shift), slice(shift, _FIELD)
    return slice(-shift, _FIELD), slice(0, _FIELD + shift)
