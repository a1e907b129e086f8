"""How a 28x28 image becomes a sequence: the one idea this project is about.

The seed reads each digit top to bottom, one row of 28 pixels per time step. Other scan orders
(columns, single pixels, a fixed pixel permutation) are the same idea with another reshape; a
crop of the blank border reads the same digit in fewer, shorter steps.
Everything here works on whole batches, after the uint8 batch reached its device, so the data
path has no per-sample Python.
"""

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from typing_extensions import override

ScanOrder = Literal["rows", "columns", "pixels", "permuted"]
Normalization = Literal["scale", "standardize"]

IMAGE_SIZE = 28
# Mean and std of the 60,000 training images scaled to [0, 1], for normalization="standardize"
PIXEL_STATS = {"mnist": (0.1307, 0.3081), "fashion_mnist": (0.2860, 0.3530)}


def sequence_shape(scan: ScanOrder, pad_width: int = 0, crop: int = 0) -> tuple[int, int]:
    """(time steps, features per step) that ``ImageToSequence`` produces."""
    side = IMAGE_SIZE - 2 * crop
    steps, features = (side, side) if scan in ("rows", "columns") else (side**2, 1)
    return steps, features + pad_width


class ImageToSequence(nn.Module):
    """Images (N, 28, 28), uint8 or float in 0-255 -> float sequences (N, steps, features).

    The one place where an image becomes the model's input: the data module applies it to every
    batch, and the report, ``explain`` and ``export`` (``nn.Sequential(transform, model)``) use
    the data module's own instance. Padding comes last, so the appended features are exact zeros
    whatever the normalisation, as in the seed (pixels / 255, then 14 zeros per row).
    """

    def __init__(
        self,
        scan: ScanOrder = "rows",
        pad_width: int = 0,
        normalization: Normalization = "scale",
        mean_std: tuple[float, float] = PIXEL_STATS["mnist"],
        permutation_seed: int = 0,
        crop: int = 0,
    ) -> None:
        """Take the data module's settings (see MNISTDataModule for each).

        Args:
            scan: ``rows``, ``columns``, ``pixels`` or ``permuted``.
            pad_width: Zeros appended to every time step.
            normalization: ``scale`` (/ 255) or ``standardize`` (then minus mean, over std).
            mean_std: The training set's pixel mean and std, for ``standardize``.
            permutation_seed: Seed of the fixed pixel order of ``permuted``.
            crop: Pixels cut off each edge of the image before it is read.
        """
        super().__init__()
        self.scan, self.pad_width, self.normalization = scan, pad_width, normalization
        self.mean, self.std = mean_std
        self.crop = crop
        pixels = (IMAGE_SIZE - 2 * crop) ** 2
        # A buffer, so that .to(device) moves it with the module and a state dict never holds it.
        order = (
            fixed_permutation(permutation_seed, pixels) if scan == "permuted" else torch.empty(0)
        )
        self.register_buffer("permutation", order.long(), persistent=False)

    @override
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.crop:
            images = images[:, self.crop : -self.crop, self.crop : -self.crop]
        x = images.float() / 255  # a new tensor: the in-place steps below never touch `images`
        if self.normalization == "standardize":
            x = x.sub_(self.mean).div_(self.std)
        if self.scan == "columns":
            x = x.transpose(1, 2)
        elif self.scan == "pixels":
            x = x.reshape(len(x), -1, 1)
        elif self.scan == "permuted":
            x = x.reshape(len(x), -1)[:, self.permutation].unsqueeze(-1)
        return F.pad(x, (0, self.pad_width)) if self.pad_width else x

    def step_of_pixel(self) -> torch.Tensor:
        """(28, 28): the time step at which each pixel is read (to show what a step has seen).

        A pixel the crop cuts off is never read: its step is the sequence's length.
        """
        side = IMAGE_SIZE - 2 * self.crop
        grid = torch.arange(side**2).reshape(side, side)
        if self.scan == "rows":
            read = grid // side
        elif self.scan == "columns":
            read = grid % side
        elif self.scan == "pixels":
            read = grid
        else:
            read = torch.empty_like(grid).flatten()
            read[self.permutation.cpu()] = torch.arange(side**2)  # pixel p is read at step s
            read = read.reshape(side, side)
        steps = torch.full((IMAGE_SIZE, IMAGE_SIZE), sequence_shape(self.scan, 0, self.crop)[0])
        steps[self.crop : IMAGE_SIZE - self.crop, self.crop : IMAGE_SIZE - self.crop] = read
        return steps


def fixed_permutation(seed: int, pixels: int = IMAGE_SIZE**2) -> torch.Tensor:
    """The pixel order for scan='permuted': one permutation of the pixels, fixed by ``seed``."""
    return torch.randperm(pixels, generator=torch.Generator().manual_seed(seed))
