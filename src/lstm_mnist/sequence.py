"""How a 28x28 image becomes a sequence: the one idea this project is about.

The seed reads each digit top to bottom, one row of 28 pixels per time step. Other scan orders
(columns, single pixels, a fixed pixel permutation) are the same idea with another reshape.
Everything here works on whole batches, after the uint8 batch reached its device, so the data
path has no per-sample Python.
"""

from typing import Literal

import torch
import torch.nn.functional as F

ScanOrder = Literal["rows", "columns", "pixels", "permuted"]
Normalization = Literal["scale", "standardize"]

IMAGE_SIZE = 28
# Mean and std of the 60,000 training images scaled to [0, 1], for normalization="standardize"
PIXEL_STATS = {"mnist": (0.1307, 0.3081), "fashion_mnist": (0.2860, 0.3530)}


def sequence_shape(scan: ScanOrder, pad_width: int = 0) -> tuple[int, int]:
    """(time steps, features per step) that ``images_to_sequences`` produces."""
    steps, features = (
        (IMAGE_SIZE, IMAGE_SIZE) if scan in ("rows", "columns") else (IMAGE_SIZE**2, 1)
    )
    return steps, features + pad_width


def images_to_sequences(
    images: torch.Tensor,
    scan: ScanOrder = "rows",
    pad_width: int = 0,
    normalization: Normalization = "scale",
    permutation: torch.Tensor | None = None,
    mean_std: tuple[float, float] = PIXEL_STATS["mnist"],
) -> torch.Tensor:
    """Turn images (N, 28, 28), uint8 or float in 0-255, into float sequences (N, steps, features).

    Padding comes last, so the appended features are exact zeros whatever the normalisation,
    as in the seed (pixels / 255, then 14 zeros per row). ``mean_std`` is used by
    ``standardize``: the training set's pixel mean and std (``PIXEL_STATS[dataset]``).
    """
    x = images.float() / 255  # a new tensor: the in-place steps below never touch `images`
    if normalization == "standardize":
        x = x.sub_(mean_std[0]).div_(mean_std[1])
    if scan == "columns":
        x = x.transpose(1, 2)
    elif scan == "pixels":
        x = x.reshape(len(x), -1, 1)
    elif scan == "permuted":
        if permutation is None:
            raise ValueError("scan='permuted' needs the fixed pixel permutation")
        x = x.reshape(len(x), -1)[:, permutation.to(x.device)].unsqueeze(-1)
    return F.pad(x, (0, pad_width)) if pad_width else x


def fixed_permutation(seed: int) -> torch.Tensor:
    """The pixel order for scan='permuted': one permutation of 784 pixels, fixed by ``seed``."""
    return torch.randperm(IMAGE_SIZE**2, generator=torch.Generator().manual_seed(seed))
