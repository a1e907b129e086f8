"""MNIST (or Fashion-MNIST) as in-memory uint8 tensors, turned into sequences per batch.

The model has 25k parameters, so the data path sets the speed: the whole set lives on the
training device as one uint8 tensor (47 MB for MNIST's training images), batches are cut there
with one index operation (no per-sample Python, no PIL, no copy of images per step), and
scaling, padding and the scan order run on the whole batch on that device.
"""

from pathlib import Path
from typing import Literal
from urllib.error import URLError

import lightning as L
import numpy as np
import torch
from lightning.pytorch.overrides.distributed import UnrepeatedDistributedSampler
from lightning.pytorch.utilities import rank_zero_info
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets import MNIST, FashionMNIST
from typing_extensions import override

from lstm_mnist.core.augment import random_erase, random_strokes, random_warp, shifted_views
from lstm_mnist.core.errors import DatasetNotFoundError, OptionError, require
from lstm_mnist.core.idx import (
    OFFICIAL_FILES,
    RAW_FILES,
    RAW_NAMES,
    check_idx,
    idx_length,
    load_split,
    missing_files,
)
from lstm_mnist.core.images import ImageError, expand_paths, load_digit
from lstm_mnist.core.sequence import (
    PIXEL_STATS,
    ImageToSequence,
    Normalization,
    ScanOrder,
    sequence_shape,
)

DatasetName = Literal["mnist", "fashion_mnist"]

# torchvision's classes know the download mirrors and md5 sums; their folder is <root>/<Class>/raw.
_TORCHVISION_CLASSES = {"mnist": MNIST, "fashion_mnist": FashionMNIST}
NUM_CLASSES = 10
# What predict calls each class: a digit's own name, and Fashion-MNIST's names (torchvision's).
CLASS_NAMES = {"mnist": [str(digit) for digit in range(10)], "fashion_mnist": FashionMNIST.classes}


class TensorBatches(Dataset):
    """Images and labels held as tensors; a whole batch is fetched with one index operation."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        """Hold the images (N, 28, 28) and labels (N,) as they are."""
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        """The number of samples."""
        return len(self.labels)

    @override
    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images[index], self.labels[index]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """A whole batch: DataLoader's call with the batch's indices."""
        # DataLoader calls this with a batch's indices, which skips per-sample collation.
        # numpy reads a list of ints ~6x faster than torch.as_tensor, and index_select copies
        # whole rows where advanced indexing (images[index]) is ~7x slower on uint8 images
        # (docs/performance.md).
        index = torch.from_numpy(np.fromiter(indices, np.int64, len(indices)))
        if self.images.is_cuda:
            # To copy from pageable memory the driver may first wait for all the GPU work queued
            # so far (CUDA: "API synchronization behavior"), which would stop the host from
            # running ahead at every step; from pinned memory (PyTorch caches the blocks) the
            # copy is queued like a kernel.
            index = index.pin_memory().to(self.images.device, non_blocking=True)
        elif self.images.device != index.device:
            index = index.to(self.images.device)
        return self.images.index_select(0, index), self.labels.index_select(0, index)


class NamedBatches(TensorBatches):
    """Batches of named samples, and the files that could not be read.

    A name is a file or ``test[i]``: what ``predict`` reports, carried by its own dataset.
    """

    def __init__(
        self, images: torch.Tensor, labels: torch.Tensor, names: list[str], failures: dict
    ) -> None:
        """Hold the samples and what to call them.

        Args:
            images: uint8 images (N, 28, 28).
            labels: The true classes, or -1 where unknown (a person's image).
            names: One name per sample.
            failures: file -> why it could not be read.
        """
        super().__init__(images, labels)
        self.names, self.failures = names, failures


def _missing_folders(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, deepest first."""
    return [path for path in (folder, *folder.parents) if not path.exists()]


def keep_batch(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """collate_fn for TensorBatches: its batch is already stacked."""
    return batch


# The commands that score a finished model, under which test_time_shifts applies: all but fit
# (its validation included).
EVALUATIONS = ("validate", "test", "predict")
# Settings of how a finished model reads the images, no part of what it was trained with.
TEST_SETTINGS = ("test_time_shifts",)


class MNISTDataModule(L.LightningDataModule):
    """MNIST digits read as sequences, with the seed's defaults: 28 rows of 28 pixels / 255."""

    def __init__(
        self,
        data_dir: str = "data",
        dataset: DatasetName = "mnist",
        download: bool = True,
        batch_size: int = 128,
        val_size: int = 5000,
        split_seed: int = 42,
        normalization: Normalization = "scale",
        pad_width: int = 0,
        scan: ScanOrder = "rows",
        permutation_seed: int = 0,
        crop: int = 0,
        max_shift: float = 0.0,
        max_rotation: float = 0.0,
        horizontal_flip: bool = False,
        elastic_alpha: float = 0.0,
        slant: float = 0.0,
        stroke_width: float = 0.0,
        blur: float = 0.0,
        erase_probability: float = 0.0,
        test_time_shifts: Literal[0, 4, 8] = 0,
        predict_files: list[str] | str | None = None,
        on_device: bool = True,
    ) -> None:
        """Set every data setting; the CLI shows each in --help.

        Args:
            data_dir: Folder that holds (or will hold) ``MNIST/raw`` or ``FashionMNIST/raw``.
            dataset: ``mnist`` or ``fashion_mnist``; both are 28x28 grey images in 10 classes.
            download: Download missing files with torchvision (md5-checked) in ``prepare_data``.
            batch_size: Samples per batch and per device, for every stage.
            val_size: Training images held out for validation (seeded split); test is the
                official 10,000-image set.
            split_seed: Seed of the train/validation split, independent of the global seed.
            normalization: ``scale`` is pixels / 255 like the seed; ``standardize`` then
                subtracts the training set's pixel mean and divides by its std (MNIST: 0.1307
                and 0.3081; Fashion-MNIST: 0.2860 and 0.3530).
            pad_width: Zeros appended to every time step (the seed's second run uses 14).
            scan: Order in which the image is read: ``rows`` (28 steps x 28 pixels, the seed),
                ``columns`` (28 x 28), ``pixels`` (784 x 1) or ``permuted`` (784 x 1 in a fixed
                random order).
            permutation_seed: Seed of the fixed pixel order used by ``scan: permuted``.
            crop: Pixels cut off each edge of every image before it is read: 2 reads the
                central 24x24 (99.8% of MNIST's ink) in 24 rows of 24 pixels, a seventh fewer
                steps to run (``configs/fast.yaml``); augmentation moves the whole 28x28 first.
            max_shift: Training augmentation: move each training image by up to this many
                pixels in x and y, a new random draw every epoch (0 = off, like the seed).
            max_rotation: Training augmentation: turn each training image by up to this many
                degrees (0 = off). Validation, test and predict images are never altered.
            horizontal_flip: Training augmentation: mirror a random half of the training images
                left to right, for Fashion-MNIST (a mirrored shoe is a shoe); not for digits.
            elastic_alpha: Training augmentation: bend each training image by a smooth random
                displacement field, Simard et al.'s (2003) elastic distortion with this alpha
                (they used 34 on MNIST, with a smoothing sigma of 4 pixels; 0 = off).
            slant: Training augmentation: shear each training image by a factor up to this
                (x moves by it times y, as a writer's slant; 0.3 is about 17 degrees; 0 = off).
            stroke_width: Training augmentation: in this fraction of the training images, make
                the strokes a pixel thicker (two in three) or thinner (one in three), as other
                pens than MNIST's write them (0 = off).
            blur: Training augmentation: blur each training image by a Gaussian of sigma up to
                this many pixels, as a scan or a photo out of focus does (0 = off).
            erase_probability: Training augmentation: blank a random rectangle (2-33% of the
                image) in this fraction of the training images, after any warp: Zhong et al.'s
                (2017) random erasing (0 = off).
            test_time_shifts: Test-time augmentation in ``validate``, ``test`` (also a fit's
                ``--test_after_fit``) and ``predict``: the model also reads each image moved by
                one pixel, to the 4 sides or also diagonally (8), and answers with the mean of
                its class probabilities (0 = off). Costs 5 or 9 readings of each image; fit's
                own validation, and so the checkpoint it keeps, reads images as they are. A
                checkpoint is evaluated with its fit's value unless the command line sets one
                or a config turns them on.
            predict_files: Image files, folders or glob patterns (PNG, JPEG, BMP, GIF, TIFF,
                WebP), or just one, that ``predict`` classifies, each prepared the way MNIST
                digits were made; when empty, ``predict`` runs on the test set.
            on_device: Hold the images and labels on the device the Trainer runs on (a GPU's
                memory: 55 MB for MNIST) and cut each batch there, so no batch is copied from
                the host; ``false`` keeps them in host memory and moves each batch.
        """
        super().__init__()
        require(batch_size >= 1, "data", "batch_size", batch_size, "must be at least 1")
        require(val_size >= 1, "data", "val_size", val_size, "must be at least 1")
        require(pad_width >= 0, "data", "pad_width", pad_width, "must be 0 or more")
        require(0 <= crop < 14, "data", "crop", crop, "must be in [0, 14) pixels")
        require(0 <= max_shift < 14, "data", "max_shift", max_shift, "must be in [0, 14) pixels")
        require(0 <= max_rotation <= 180, "data", "max_rotation", max_rotation, "must be 0-180")
        require(elastic_alpha >= 0, "data", "elastic_alpha", elastic_alpha, "must be 0 or more")
        require(0 <= slant <= 1, "data", "slant", slant, "must be in [0, 1]")
        require(0 <= stroke_width <= 1, "data", "stroke_width", stroke_width, "must be in [0, 1]")
        require(0 <= blur <= 3, "data", "blur", blur, "must be in [0, 3] pixels")
        require(
            0 <= erase_probability <= 1,
            "data",
            "erase_probability",
            erase_probability,
            "must be in [0, 1]",
        )
        self.save_hyperparameters()
        # A checkpoint records where the files were found as an absolute path, so that it is
        # evaluated on the same files from any folder (messages keep the path as it was given).
        self.hparams.data_dir = str(Path(data_dir).absolute())
        self.data_dir = Path(data_dir)
        self.dataset, self.download, self.batch_size = dataset, download, batch_size
        self.val_size, self.split_seed = val_size, split_seed
        self.normalization, self.pad_width, self.scan = normalization, pad_width, scan
        self.crop = crop
        self.max_shift, self.max_rotation = max_shift, max_rotation
        self.horizontal_flip, self.elastic_alpha = horizontal_flip, elastic_alpha
        self.slant, self.stroke_width, self.blur = slant, stroke_width, blur
        self.erase_probability = erase_probability
        self.test_time_shifts = test_time_shifts
        self.transform = ImageToSequence(
            scan, pad_width, normalization, PIXEL_STATS[dataset], permutation_seed, crop
        )
        if isinstance(predict_files, str):  # one file, folder or pattern
            predict_files = [predict_files]
        self.predict_files, self.on_device = predict_files or [], on_device
        self.train_set = self.val_set = self.test_set = None
        self.predict_set: NamedBatches | None = None

    @property
    def raw_folder(self) -> Path:
        """Where this dataset's four IDX files are: ``<data_dir>/<Class>/raw``."""
        return self.data_dir / _TORCHVISION_CLASSES[self.dataset].__name__ / "raw"

    @property
    def seq_len(self) -> int:
        """Time steps per image (28 for rows, 784 for pixels); linked to the model's seq_len."""
        return sequence_shape(self.scan, self.pad_width, self.crop)[0]

    @property
    def input_size(self) -> int:
        """Features per time step (28 + pad_width for rows); linked to the model's input_size."""
        return sequence_shape(self.scan, self.pad_width, self.crop)[1]

    @property
    def num_classes(self) -> int:
        """Classes of the dataset (10 for both); linked to the model's num_classes."""
        return NUM_CLASSES

    @property
    def class_names(self) -> list[str]:
        """What each class is called: ``"7"`` for MNIST, ``"Sneaker"`` for Fashion-MNIST's 7."""
        return CLASS_NAMES[self.dataset]

    def prepare_data(self) -> None:
        """Download once (rank 0 of each node), and only what is missing.

        No network at all when the files are there, and none needed to predict a person's images
        (the checkpoint is all that takes).
        """
        if self.predict_files and self.trainer is not None and self.trainer.predicting:
            return
        if self.data_dir.exists() and not self.data_dir.is_dir():
            raise OptionError(
                f"data.data_dir={str(self.data_dir)!r} is a file: name the folder that "
                f"holds (or will hold) {self.raw_folder.parent.name}/raw/"
            )
        if self._missing_files():
            if not self.download:
                raise self._not_found_error("download is false")
            made = _missing_folders(self.raw_folder)
            try:
                for train in (True, False):
                    _TORCHVISION_CLASSES[self.dataset](self.data_dir, train=train, download=True)
            except (URLError, RuntimeError, OSError) as err:
                for folder in made:  # what the failed download made, if it left them empty
                    if folder.is_dir() and not any(folder.iterdir()):
                        folder.rmdir()
                # torchvision's: "Error downloading <file>:\n<why>"; the why must stay
                reason = str(err).strip().rstrip(":") or type(err).__name__
                raise self._not_found_error(f"the download failed ({reason})", reason) from err
        # Checked here too (sizes, md5s, val_size from a header): prepare_data runs before a
        # run folder is made, so a broken file or a bad value leaves nothing behind.
        for name in RAW_NAMES:
            check_idx(self.raw_folder / name, OFFICIAL_FILES[self.dataset][name])
        if self.trainer is not None and self.trainer.state.fn in ("fit", "validate"):
            self._require_val_size(idx_length(self.raw_folder / RAW_FILES["train"][1]))

    @override
    def setup(self, stage: str | None = None) -> None:
        if stage in ("fit", "validate", None) and self.train_set is None:
            images, labels = self._load("train")
            self._require_val_size(len(labels))
            order = torch.randperm(
                len(labels), generator=torch.Generator().manual_seed(self.split_seed)
            )
            val, train = order[: self.val_size], order[self.val_size :]
            self.train_set = self._held(images[train], labels[train])
            self.val_set = self._held(images[val], labels[val])
        needs_test = stage in ("test", None) or (stage == "predict" and not self.predict_files)
        if needs_test and self.test_set is None:
            self.test_set = self._held(*self._load("test"))
        if stage == "predict" and self.predict_set is None:
            self.predict_set = self._predict_set()
        if stage in EVALUATIONS and self.test_time_shifts:
            # Said, since the scores differ from a single reading's.
            rank_zero_info(
                f"Test-time shifts: each image is also read moved by one pixel in "
                f"{self.test_time_shifts} directions ({1 + self.test_time_shifts} readings, "
                "probabilities averaged); --data.test_time_shifts 0 reads it once"
            )

    @override
    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    @override
    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set)

    @override
    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set)

    @override
    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.predict_set)

    @override
    def transfer_batch_to_device(self, batch, device: torch.device, dataloader_idx: int):
        # With on_device the batch is there already. Otherwise two tensors, moved directly:
        # Lightning's generic collection walk costs more per step.
        if isinstance(batch, torch.Tensor):  # model input, e.g. the graph's example_input_array
            return batch.to(device)
        images, labels = batch
        if images.device == device:
            return batch
        return images.to(device, non_blocking=True), labels.to(device, non_blocking=True)

    @override
    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        if isinstance(batch, torch.Tensor):  # already sequences (see transfer_batch_to_device)
            return batch
        images, labels = batch
        training = self.trainer is not None and self.trainer.training
        evaluating = self.trainer is not None and self.trainer.state.fn in EVALUATIONS
        views = self.test_time_shifts if evaluating else 0
        return self.to_sequences(images, augment=training, test_time_shifts=views), labels

    def to_sequences(
        self, images: torch.Tensor, augment: bool = False, test_time_shifts: int = 0
    ) -> torch.Tensor:
        """Turn uint8 images (N, 28, 28), on any device, into the model's input sequences.

        Through ``self.transform``; randomly warped first (shifted, turned, slanted, bent,
        mirrored), its strokes changed and blurred, and erased if ``augment`` (training) and
        augmentation is on. With ``test_time_shifts`` (4 or
        8), each image's sequence and those of its one-pixel moves: (1 + shifts, N, steps,
        features), which the model answers with the views' mean.
        """
        warps = (self.max_shift, self.max_rotation, self.horizontal_flip, self.elastic_alpha)
        if augment and any((*warps, self.slant)):
            images = random_warp(images, *warps, slant=self.slant)
        if augment and (self.stroke_width or self.blur):
            images = random_strokes(images.float(), self.stroke_width, self.blur)
        if augment and self.erase_probability:
            images = random_erase(images, self.erase_probability)
        transform = self.transform.to(images.device)  # a no-op once it is there
        if not test_time_shifts:
            return transform(images)
        views = shifted_views(images, test_time_shifts)
        return transform(views.flatten(0, 1)).unflatten(0, views.shape[:2])

    def _loader(self, dataset: TensorBatches | None, shuffle: bool = False) -> DataLoader:
        if dataset is None:
            raise RuntimeError("call setup() with the matching stage before asking for a loader")
        sampler = None
        if not shuffle and self.trainer is not None and self.trainer.world_size > 1:
            # Lightning's DistributedSampler pads every rank to the same length by repeating
            # samples, which val/test accuracy would count twice. This one splits the set
            # without repeats (ranks differ by at most one sample); a DistributedSampler
            # already, so Lightning leaves it in place. Training keeps Lightning's sampler.
            sampler = UnrepeatedDistributedSampler(
                dataset, self.trainer.world_size, self.trainer.global_rank, shuffle=False
            )
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            sampler=sampler,
            collate_fn=keep_batch,
        )

    def _predict_set(self) -> NamedBatches:
        """The user's image files (labels -1: unknown) or, without any, the test set."""
        if not self.predict_files:
            names = [f"test[{i}]" for i in range(len(self.test_set))]
            return NamedBatches(self.test_set.images, self.test_set.labels, names, {})
        digits, names, failures = [], [], {}
        for path in expand_paths(self.predict_files):
            try:
                digits.append(load_digit(path))
                names.append(str(path))
            except ImageError as err:
                failures[str(path)] = str(err)
        if not digits:
            raise OptionError(
                f"data.predict_files={self.predict_files} gave no readable image: "
                + "; ".join(failures.values() or ["no file matched"])
            )
        held = self._held(torch.stack(digits), torch.full((len(digits),), -1))
        return NamedBatches(held.images, held.labels, names, failures)

    def _held(self, images: torch.Tensor, labels: torch.Tensor) -> TensorBatches:
        """A split, where its batches will be cut.

        On the Trainer's device with ``on_device`` (a split made without a Trainer stays in host
        memory; its batches are moved).
        """
        if self.on_device and self.trainer is not None:
            device = self.trainer.strategy.root_device
            images, labels = images.to(device), labels.to(device)
        return TensorBatches(images, labels)

    def _require_val_size(self, training_images: int) -> None:
        require(
            self.val_size < training_images,
            "data",
            "val_size",
            self.val_size,
            f"must be smaller than the {training_images} training images",
        )

    def _missing_files(self) -> list[str]:
        return missing_files(self.raw_folder)

    def _load(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        if self._missing_files():
            raise self._not_found_error("prepare_data() has not fetched them")
        return load_split(self.raw_folder, self.dataset, split)

    def _not_found_error(self, why: str, reason: str = "") -> DatasetNotFoundError:
        missing = ", ".join(self._missing_files())
        return DatasetNotFoundError(
            f"{self.dataset} files are missing from {self.raw_folder} and {why}. Missing: "
            f"{missing}. Point data_dir (--data.data_dir) at the folder that holds "
            f"{self.raw_folder.parent.name}/raw/ with the four uncompressed IDX files, or run "
            f"'lstm-mnist download --data_dir {self.data_dir}' on a machine with internet.",
            reason,
        )
