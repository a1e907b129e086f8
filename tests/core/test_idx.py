import numpy as np
import pytest
import torch

from lstm_mnist.core.errors import IDXFormatError
from lstm_mnist.core.idx import read_idx
from tests.helpers import write_idx


def test_round_trip(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x", array)
    assert torch.equal(read_idx(tmp_path / "x"), torch.from_numpy(array))


def test_truncated_file_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, np.zeros((5, 28, 28), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(IDXFormatError, match="train-images-idx3-ubyte.*truncated"):
        read_idx(path)


@pytest.mark.parametrize("content", [b"", b"\x1f\x8b\x08\x00gzip", b"\x00\x00\x08\x03\x00"])
def test_not_idx_names_the_file(tmp_path, content):
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(content)
    with pytest.raises(IDXFormatError, match="t10k-labels-idx1-ubyte"):
        read_idx(path)
