from pathlib import Path
from types import SimpleNamespace
from urllib.error import URLError

import numpy as np
import pytest
import torch
from torchvision.datasets import MNIST

from lstm_mnist.core.data import MNISTDataModule, TensorBatches
from lstm_mnist.core.errors import DatasetNotFoundError, IDXFormatError
from lstm_mnist.core.sequence import PIXEL_STATS
from tests.helpers import TINY_TEST, TINY_TRAIN, write_idx, write_tiny_mnist


def first_batch(dm: MNISTDataModule, loader: str = "train_dataloader"):
    raw = next(iter(getattr(dm, loader)()))
    return raw, dm.on_after_batch_transfer(raw, 0)


def test_split_sizes_and_test_set(tiny_data_dir):
    dm = MNISTDataModule(data_dir=str(tiny_data_dir), val_size=50)
    dm.setup("fit")
    dm.setup("test")
    sizes = len(dm.train_set), len(dm.val_set), len(dm.test_set)
    assert sizes == (TINY_TRAIN - 50, 50, TINY_TEST)


def test_split_is_seeded_and_disjoint(tiny_data_dir):
    def split(seed):
        dm = MNISTDataModule(data_dir=str(tiny_data_dir), val_size=50, split_seed=seed)
        dm.setup("fit")
        return dm.train_set.images, dm.val_set.images

    train, val = split(1)
    assert torch.equal(train, split(1)[0])
    assert not torch.equal(val, split(2)[1])
    # every image lands in exactly one part (random 28x28 images are unique)
    rows = {tuple(image.flatten().tolist()) for image in torch.cat([train, val])}
    assert len(rows) == TINY_TRAIN


def test_batches_are_uint8_from_memory_then_float_sequences(tiny_data_dir):
    dm = MNISTDataModule(data_dir=str(tiny_data_dir), batch_size=32, val_size=50)
    dm.setup("fit")
    (images, labels), (sequences, same_labels) = first_batch(dm)
    assert images.dtype == torch.uint8
    assert images.shape == (32, 28, 28)
    assert sequences.dtype == torch.float32
    assert sequences.shape == (32, 28, 28)
    assert labels.shape == (32,)
    assert labels is same_labels
    torch.testing.assert_close(sequences, images.float() / 255)


def test_padding_appends_exact_zeros(tiny_data_dir):
    dm = MNISTDataModule(data_dir=str(tiny_data_dir), pad_width=14, normalization="standardize")
    dm.setup("test")
    (images, _), (sequences, _) = first_batch(dm, "test_dataloader")
    assert dm.input_size == 42
    assert sequences.shape[1:] == (28, 42)
    assert torch.count_nonzero(sequences[..., 28:]) == 0
    mean, std = PIXEL_STATS["mnist"]
    torch.testing.assert_close(sequences[..., :28], (images.float() / 255 - mean) / std)


def test_scan_orders(tiny_data_dir):
    def sequences(scan, **kwargs):
        dm = MNISTDataModule(data_dir=str(tiny_data_dir), scan=scan, **kwargs)
        dm.setup("test")
        (images, _), (seq, _) = first_batch(dm, "test_dataloader")
        assert seq.shape[1:] == (dm.seq_len, dm.input_size)
        return images.float() / 255, seq

    images, columns = sequences("columns")
    torch.testing.assert_close(columns, images.transpose(1, 2))
    images, pixels = sequences("pixels")
    torch.testing.assert_close(pixels, images.reshape(-1, 784, 1))
    _, permuted = sequences("permuted", permutation_seed=3)
    _, permuted_again = sequences("permuted", permutation_seed=3)
    assert torch.equal(permuted, permuted_again)
    assert not torch.equal(permuted, pixels)
    torch.testing.assert_close(permuted.sort(dim=1).values, pixels.sort(dim=1).values)


@pytest.mark.parametrize(
    ("option", "value"), [("pad_width", -1), ("val_size", 0), ("batch_size", 0), ("crop", 14)]
)
def test_bad_options_name_the_option(option, value):
    with pytest.raises(ValueError, match=f"{option}={value}"):
        MNISTDataModule(**{option: value})


def test_val_size_larger_than_train_set(tiny_data_dir):
    dm = MNISTDataModule(data_dir=str(tiny_data_dir), val_size=TINY_TRAIN)
    with pytest.raises(ValueError, match=f"val_size={TINY_TRAIN}.*{TINY_TRAIN} training images"):
        dm.setup("fit")


def test_missing_files_without_download(tmp_path):
    dm = MNISTDataModule(data_dir=str(tmp_path), download=False)
    with pytest.raises(DatasetNotFoundError) as error:
        dm.prepare_data()
    message = str(error.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "--data.data_dir" in message
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        assert name in message


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (URLError("no network"), r"download failed \(<urlopen error no network>\)"),
        # torchvision's own, once every mirror failed: the why is on its second line
        (
            RuntimeError("Error downloading a.gz:\nTried x, got:\n<urlopen error [Errno -2]>\n"),
            r"failed \(Error downloading a.gz:\nTried x, got:\n<urlopen error \[Errno -2\]>\)",
        ),
    ],
)
def test_offline_download_gives_one_clear_error(error, says, tmp_path, monkeypatch):
    def offline(self):
        Path(self.raw_folder).mkdir(parents=True)  # as torchvision does before it fetches
        raise error

    monkeypatch.setattr(MNIST, "download", offline)
    dm = MNISTDataModule(data_dir=str(tmp_path / "data"), download=True)
    with pytest.raises(DatasetNotFoundError, match=says):
        dm.prepare_data()
    assert not (tmp_path / "data").exists()  # no empty tree left behind


def test_present_files_need_no_download(tiny_data_dir, monkeypatch):
    def no_network(self):
        raise AssertionError("prepare_data tried to download files that are present")

    monkeypatch.setattr(MNIST, "download", no_network)
    MNISTDataModule(data_dir=str(tiny_data_dir), download=True).prepare_data()


def test_fashion_mnist_reads_its_own_folder(tmp_path):
    write_tiny_mnist(tmp_path, folder="FashionMNIST", seed=1)
    dm = MNISTDataModule(data_dir=str(tmp_path), dataset="fashion_mnist")
    dm.prepare_data()
    dm.setup("test")
    assert len(dm.test_set) == TINY_TEST


def test_mismatched_images_and_labels(tmp_path):
    root = write_tiny_mnist(tmp_path)
    labels = root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    other = write_tiny_mnist(tmp_path / "other") / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    labels.write_bytes(other.read_bytes())
    with pytest.raises(IDXFormatError, match="t10k-labels-idx1-ubyte"):
        MNISTDataModule(data_dir=str(root)).setup("test")


def test_corrupt_official_file_fails_its_md5(tmp_path):
    root = write_tiny_mnist(tmp_path)
    labels = root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    # the published file's size (8-byte header + 10,000 labels), with the wrong labels
    write_idx(labels, np.zeros(10_000, dtype=np.uint8))
    with pytest.raises(IDXFormatError, match="t10k-labels-idx1-ubyte has the size.*md5.*corrupt"):
        MNISTDataModule(data_dir=str(root)).setup("test")


def test_truncated_file_is_named_by_the_data_module(tmp_path):
    root = write_tiny_mnist(tmp_path)
    images = root / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:1000])
    with pytest.raises(IDXFormatError, match="train-images-idx3-ubyte.*truncated"):
        MNISTDataModule(data_dir=str(root), val_size=10).setup("fit")


def test_a_truncated_file_is_found_before_anything_is_written(tmp_path):
    # prepare_data runs before the logger makes a run folder; setup, after.
    root = write_tiny_mnist(tmp_path)
    labels = root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:20])
    with pytest.raises(IDXFormatError, match="t10k-labels-idx1-ubyte holds 20 bytes.*truncated"):
        MNISTDataModule(data_dir=str(root), download=False).prepare_data()


def test_a_batch_is_the_samples_at_its_indices_in_order():
    images = torch.randint(0, 256, (50, 28, 28), dtype=torch.uint8)
    labels = torch.randint(0, 10, (50,))
    data = TensorBatches(images, labels)
    indices = [7, 3, 3, 49, 0]
    batch_images, batch_labels = data.__getitems__(indices)
    assert torch.equal(batch_images, torch.stack([data[i][0] for i in indices]))
    assert torch.equal(batch_labels, torch.stack([data[i][1] for i in indices]))
    assert batch_images.dtype == torch.uint8


def trainer_on(device: str) -> SimpleNamespace:
    """What the data module asks of a Trainer to place its splits: the device it trains on."""
    return SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device(device)))


@pytest.mark.parametrize(("on_device", "held_on"), [(True, "meta"), (False, "cpu")])
def test_splits_are_held_where_the_trainer_trains(tiny_data_dir, on_device, held_on):
    # "meta" stands in for a GPU: a device other than the host's, with no data behind it
    dm = MNISTDataModule(data_dir=str(tiny_data_dir), val_size=50, on_device=on_device)
    dm.trainer = trainer_on("meta")
    dm.setup("fit")
    dm.setup("test")
    for split in (dm.train_set, dm.val_set, dm.test_set):
        assert split.images.device.type == split.labels.device.type == held_on
    batch = next(iter(dm.train_dataloader()))  # the batch's indices follow the images there
    assert [tensor.device.type for tensor in batch] == [held_on, held_on]
    moved = dm.transfer_batch_to_device(batch, torch.device("meta"), 0)
    assert all(m.device.type == "meta" for m in moved)
    assert (moved[0] is batch[0]) == on_device  # on the device already: not copied again


def test_splits_made_without_a_trainer_stay_in_host_memory(tiny_data_dir):
    dm = MNISTDataModule(data_dir=str(tiny_data_dir), val_size=50)  # on_device by default
    dm.setup("fit")
    assert dm.train_set.images.device.type == "cpu"
