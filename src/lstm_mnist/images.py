"""A person's digit image -> a 28x28 uint8 digit prepared the way MNIST's own were made.

MNIST digits are light ink on black, the ink's bounding box scaled to fit 20x20 (aspect ratio
kept, anti-aliased) and placed in a 28x28 field so that its centre of mass is at the centre.
A model trained on them sees a photo of a digit correctly only after the same steps.
"""

import glob
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
_BOX, _FIELD = 20, 28
_INK = 0.25  # a pixel is ink when brighter than this fraction of the brightest one


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
            paths += [Path(match) for match in sorted(glob.glob(pattern, recursive=True))]
        else:
            paths.append(path)  # missing files are reported when loaded, by name
    return paths


def load_digit(path: str | Path) -> torch.Tensor:
    """Read an image file (PNG, JPEG, BMP; any size; grey, RGB or RGBA) as an MNIST-like digit."""
    return torch.from_numpy(mnist_like(_read_ink(Path(path))))


def mnist_like(ink: np.ndarray) -> np.ndarray:
    """Ink intensities (H, W; light ink on dark, any scale) -> a 28x28 uint8 MNIST-style digit."""
    ink = ink.astype(np.float32) - ink.min()
    if ink.max() <= 0:
        raise ImageError("the image is blank: no ink to read")
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


def _read_ink(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                alpha = np.asarray(image.convert("RGBA"))[..., 3]
                if alpha.min() < 255:  # drawn on a transparent background: the alpha is the ink
                    return alpha
            grey = np.asarray(image.convert("L"), np.float32)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image PIL can read (PNG, JPEG, BMP)") from None
    except OSError as err:  # truncated or corrupt data
        raise ImageError(f"{path}: the image data is broken ({err})") from None
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    # MNIST is light on dark; dark ink on light paper (the usual photo or scan) is inverted
    return 255 - grey if np.median(border) > 127 else grey


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
