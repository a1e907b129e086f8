"""Random small shifts, rotations and mirrorings of training images, one warp for the batch.

A 25k-parameter LSTM overfits MNIST after ~20 epochs (validation accuracy peaks, then falls);
digits moved by a pixel or two and turned a few degrees are still the same digits, so the
model sees a new variant of each image every epoch. Done on the batch after it reached its
device: one ``affine_grid`` + ``grid_sample``, no per-sample Python.
"""

import math

import torch
import torch.nn.functional as F


def random_affine(
    images: torch.Tensor, max_shift: float, max_rotation: float, flip: bool = False
) -> torch.Tensor:
    """Shift each image by up to ``max_shift`` pixels and turn it by up to ``max_rotation``.

    With ``flip``, half of the images, drawn at random, are also mirrored left to right: a
    mirrored shirt is still a shirt (Fashion-MNIST); a mirrored digit is not always a digit.

    Shifts are uniform in x and y, turns are degrees around the centre; uint8 (N, H, W) in, float
    (N, H, W) out, with the same 0-255 range. Pixels that come in from outside the image are 0
    (background).
    """
    n, height, width = images.shape
    x = images.float().unsqueeze(1)
    angle = (torch.rand(n, device=x.device) * 2 - 1) * math.radians(max_rotation)
    # affine_grid works in [-1, 1] coordinates: a shift of s pixels is 2s / size.
    shift = (torch.rand(n, 2, device=x.device) * 2 - 1) * max_shift
    cos, sin = angle.cos(), angle.sin()
    # -1 mirrors: each output pixel x is sampled from the input at -x.
    mirror = torch.ones(n, device=x.device)
    if flip:
        mirror = torch.where(torch.rand(n, device=x.device) < 0.5, -mirror, mirror)
    theta = torch.stack(
        [
            torch.stack([cos * mirror, -sin, shift[:, 0] * 2 / width], dim=1),
            torch.stack([sin * mirror, cos, shift[:, 1] * 2 / height], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros").squeeze(1)
