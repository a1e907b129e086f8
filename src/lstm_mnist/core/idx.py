"""MNIST's four IDX files: their names, md5 sums, and reading them.

Errors name the file.

torchvision's reader asserts on a truncated file; a user deserves to know which file is broken
and what to do about it, so we parse the (tiny) header ourselves and check the size first.
"""

import hashlib
from pathlib import Path

import numpy as np
import torch

from lstm_mnist.core.errors import IDXFormatError

_UBYTE = 0x08  # the only IDX element type MNIST uses
# The four files of each dataset, as torchvision lays them out in <root>/<Class>/raw.
RAW_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
RAW_NAMES = RAW_FILES["train"] + RAW_FILES["test"]
# md5 and size of the published, uncompressed files (torchvision knows only the .gz sums)
OFFICIAL_FILES = {
    "mnist": {
        "train-images-idx3-ubyte": ("6bbc9ace898e44ae57da46a324031adb", 47040016),
        "train-labels-idx1-ubyte": ("a25bea736e30d166cdddb491f175f624", 60008),
        "t10k-images-idx3-ubyte": ("2646ac647ad5339dbf082846283269ea", 7840016),
        "t10k-labels-idx1-ubyte": ("27ae3e4e09519cfbb04c329615203637", 10008),
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte": ("f4a8712d7a061bf5bd6d2ca38dc4d50a", 47040016),
        "train-labels-idx1-ubyte": ("9018921c3c673c538a1fc5bad174d6f9", 60008),
        "t10k-images-idx3-ubyte": ("8181f5470baa50b63fa0f6fddb340f0a", 7840016),
        "t10k-labels-idx1-ubyte": ("15d484375f8d13e6eb1aabb0c3f46965", 10008),
    },
}


def missing_files(raw_folder: Path) -> list[str]:
    """The names of the four files that are not in ``raw_folder``."""
    return [name for name in RAW_NAMES if not (raw_folder / name).is_file()]


def load_split(raw_folder: Path, dataset: str, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """A split's images (N, 28, 28) uint8 and labels (N,) int64, checked against each other."""
    images_file, labels_file = (raw_folder / name for name in RAW_FILES[split])
    official = OFFICIAL_FILES[dataset]
    images = read_idx(images_file, official[images_file.name])
    labels = read_idx(labels_file, official[labels_file.name]).long()
    if len(images) != len(labels) or images.shape[1:] != (28, 28):
        raise IDXFormatError(
            f"{images_file} holds {tuple(images.shape)} images but {labels_file} holds "
            f"{len(labels)} labels; expected N x 28 x 28 images and N labels from the same set."
        )
    return images, labels


def read_idx(path: str | Path, official: tuple[str, int] | None = None) -> torch.Tensor:
    """Read an unsigned-byte IDX file into a uint8 tensor of the shape its header declares.

    ``official`` is the (md5, size) of the published file of that name: a file of exactly that
    size must have that md5, which catches flipped bytes that a size check cannot. Files of
    other sizes (subsets, the tests' tiny files) are only checked for structure.
    """
    path = Path(path)
    raw = path.read_bytes()
    _check_md5(path, raw, official)
    shape = _parse_header(path, raw)
    _check_size(path, len(raw), shape)
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * len(shape)).reshape(shape)
    return torch.from_numpy(data.copy())


def check_idx(path: str | Path, official: tuple[str, int] | None = None) -> None:
    """Raise IDXFormatError unless the file is whole: what read_idx checks, without the tensor.

    Its size against its header, and a file of the published size against its md5 (~0.1 s for
    the 47 MB of training images): run before a run folder is made, so a broken file is one
    line and leaves nothing behind, not a failure after hours of training (the test files of
    --test_after_fit).
    """
    path = Path(path)
    _check_size(path, path.stat().st_size, _header(path))
    if official and path.stat().st_size == official[1]:
        _check_md5(path, path.read_bytes(), official)


def _check_md5(path: Path, raw: bytes, official: tuple[str, int] | None) -> None:
    if official and len(raw) == official[1] and hashlib.md5(raw).hexdigest() != official[0]:
        raise IDXFormatError(
            f"{path} has the size of the published file but md5 {hashlib.md5(raw).hexdigest()}, "
            f"not {official[0]}: it is corrupt. Delete it and download it again."
        )


def idx_length(path: str | Path) -> int:
    """The first dimension an IDX file's header declares (its images or labels).

    Read from the header alone.
    """
    return _header(Path(path))[0]


def _header(path: Path) -> tuple[int, ...]:
    with path.open("rb") as file:
        magic = file.read(4)
        dims = file.read(4 * magic[3]) if len(magic) == 4 else b""
    return _parse_header(path, magic + dims)


def _check_size(path: Path, size: int, shape: tuple[int, ...]) -> None:
    expected = 4 + 4 * len(shape) + int(np.prod(shape))
    if size != expected:
        raise IDXFormatError(
            f"{path} holds {size} bytes but its header ({'x'.join(map(str, shape))}) "
            f"needs {expected}: the file is truncated or corrupt. Delete it and download it again."
        )


def _parse_header(path: Path, raw: bytes) -> tuple[int, ...]:
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _UBYTE or raw[3] == 0:
        raise IDXFormatError(
            f"{path} is not an unsigned-byte IDX file: it starts with "
            f"{raw[:4].hex() or 'nothing'}, not 000008 and a dimension count. "
            "Is it still gzipped, or another file?"
        )
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise IDXFormatError(f"{path} ends inside its header: the file is truncated.")
    return tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
