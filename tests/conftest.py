"""Fixtures: tiny IDX datasets the tests write themselves, and the real files when present."""

from pathlib import Path

import numpy as np
import pytest

from lstm_mnist.data import RAW_FILES

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = PROJECT_ROOT.parent / "shared" / "datasets"
TINY_TRAIN, TINY_TEST = 300, 70


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (magic 0x0000_08_ndim, big-endian dims, raw bytes)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_tiny_mnist(root: Path, folder: str = "MNIST", seed: int = 0) -> Path:
    """Random 28x28 'digits' with labels 0-9, laid out as <root>/<folder>/raw/<IDX files>."""
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    for split, count in (("train", TINY_TRAIN), ("test", TINY_TEST)):
        images_name, labels_name = RAW_FILES[split]
        write_idx(raw / images_name, rng.integers(0, 256, (count, 28, 28), dtype=np.uint8))
        write_idx(raw / labels_name, np.arange(count, dtype=np.uint8) % 10)
    return root


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    return write_tiny_mnist(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    if not (SHARED_DATASETS / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").is_file():
        pytest.skip(f"real MNIST files not found under {SHARED_DATASETS}")
    return SHARED_DATASETS
