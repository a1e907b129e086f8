"""Training images randomly shifted, turned, bent, mirrored and erased; test images moved a pixel.

A 25k-parameter LSTM overfits MNIST after ~20 epochs (validation accuracy peaks, then falls);
digits moved by a pixel or two and turned a few degrees are still the same digits, so the
model sees a new variant of each image every epoch. Done on the batch after it reached its
device: one sampling grid (affine, plus a smooth random displacement when elastic) and one
``grid_sample``, no per-sample Python. At test time the same model may also read each image
moved by one pixel and average its answers (``shifted_views``).
"""

import math

import torch
import torch.nn.functional as F

# Simard, Steinkraus and Platt (2003), "Best practices for convolutional neural networks applied
# to visual document analysis": a uniform random displacement per pixel, smoothed by a Gaussian
# of this sigma (pixels), then scaled by alpha (they used 34 on MNIST).
ELASTIC_SIGMA = 4.0
# Zhong et al. (2017), "Random erasing data augmentation", with torchvision RandomErasing's
# defaults: the blanked rectangle covers this fraction of the image, in this aspect-ratio range.
ERASE_AREA = (0.02, 0.33)
ERASE_ASPECT = (0.3, 3.3)
# Test-time augmentation: the image moved by one pixel (x right, y down), first to the four
# sides, then also diagonally. A model trained on shifted images has seen such copies; the mean
# of its answers over them is steadier than its answer on one.
TEST_TIME_MOVES = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1))


def random_warp(
    images: torch.Tensor,
    max_shift: float,
    max_rotation: float,
    flip: bool = False,
    elastic_alpha: float = 0.0,
    slant: float = 0.0,
) -> torch.Tensor:
    """Shift each image by up to ``max_shift`` pixels and turn it by up to ``max_rotation``.

    With ``elastic_alpha`` > 0, each image is also bent by its own smooth random displacement
    field (Simard et al.'s elastic distortion, see ELASTIC_SIGMA). With ``flip``, half of the
    images, drawn at random, are also mirrored left to right: a mirrored shirt is still a shirt
    (Fashion-MNIST); a mirrored digit is not always a digit.

    With ``slant`` > 0, each image is also sheared by a factor up to ``slant`` (a writer's slant:
    x moves by that factor times y), drawn after the others, so that a recipe without it draws
    the same numbers as before it existed.

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
    if slant > 0:  # x_in = x + s * y: the turn, mirror and shift act on the sheared image
        shear = (torch.rand(n, device=x.device) * 2 - 1) * slant
        theta = torch.cat(
            [
                theta[:, :, :1],
                theta[:, :, 1:2] + shear.view(n, 1, 1) * theta[:, :, :1],
                theta[:, :, 2:],
            ],
            dim=2,
        )
    grid = _affine_grid(theta, height, width)
    if elastic_alpha > 0:
        grid = grid + _elastic_field(n, height, width, elastic_alpha, x.device)
    return F.grid_sample(x, grid, align_corners=False, padding_mode="zeros").squeeze(1)


def _affine_grid(theta: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``F.affine_grid(theta, (N, 1, H, W), align_corners=False)``: (N, H, W, 2) sampling points.

    The same points, made by broadcasting: F.affine_grid's batched product over a copied base
    grid was most of a CPU batch's warp, and this takes about 0.6 of its time (docs/performance.md).
    """
    # Pixel centres in [-1, 1] units, as affine_grid places them with align_corners=False.
    xs = (torch.arange(width, device=theta.device, dtype=theta.dtype) * 2 + 1) / width - 1
    ys = (torch.arange(height, device=theta.device, dtype=theta.dtype) * 2 + 1) / height - 1
    columns = theta.transpose(1, 2)[:, :, None, None, :]  # (N, 3, 1, 1, 2): x, y and shift
    return columns[:, 0] * xs[:, None] + columns[:, 1] * ys[:, None, None] + columns[:, 2]


def _elastic_field(n: int, height: int, width: int, alpha: float, device) -> torch.Tensor:
    """(N, H, W, 2) displacements in affine_grid's [-1, 1] units: random, smoothed, scaled."""
    field = torch.rand(n * 2, 1, height, width, device=device) * 2 - 1
    radius = int(3 * ELASTIC_SIGMA)
    taps = torch.arange(-radius, radius + 1, device=device, dtype=torch.float32)
    kernel = torch.exp(-(taps**2) / (2 * ELASTIC_SIGMA**2))
    kernel = kernel / kernel.sum()
    # The Gaussian is separable: a row pass then a column pass.
    field = F.conv2d(field, kernel.view(1, 1, 1, -1), padding=(0, radius))
    field = F.conv2d(field, kernel.view(1, 1, -1, 1), padding=(radius, 0))
    pixels = field.view(n, 2, height, width).permute(0, 2, 3, 1) * alpha  # (x, y) in pixels
    return pixels * torch.tensor([2 / width, 2 / height], device=device)


def random_strokes(images: torch.Tensor, stroke_width: float, blur: float) -> torch.Tensor:
    """Other pens and other scans: strokes made thicker or thinner, and blurred.

    With probability ``stroke_width`` an image's strokes grow by a pixel (grey dilation, two in
    three) or lose one (grey erosion by a cross, one in three): felt pens and fine pens. With
    ``blur``, each image is blurred by a Gaussian of sigma uniform in [0, blur] pixels, then
    brought back to full ink, as the image path brings every person's digit. Float (N, H, W) in
    0-255 in, the same out; nothing is drawn for a setting that is 0.
    """
    x = images.unsqueeze(1)
    if stroke_width > 0:
        n, device = len(images), images.device
        chosen = torch.rand(n, device=device) < stroke_width
        thicker = torch.rand(n, device=device) < 2 / 3
        dilated = F.max_pool2d(x, 3, stride=1, padding=1)
        cross = -F.max_pool2d(-x, (3, 1), stride=1, padding=(1, 0))
        eroded = torch.minimum(cross, -F.max_pool2d(-x, (1, 3), stride=1, padding=(0, 1)))
        changed = torch.where(thicker.view(-1, 1, 1, 1), dilated, eroded)
        x = torch.where(chosen.view(-1, 1, 1, 1), changed, x)
    if blur > 0:
        x = _gaussian_blur(x, torch.rand(len(images), device=images.device) * blur)
        x = x * (255 / x.amax(dim=(2, 3), keepdim=True).clamp_min(1e-3))
    return x.squeeze(1)


def _gaussian_blur(x: torch.Tensor, sigmas: torch.Tensor) -> torch.Tensor:
    """Each image (N, 1, H, W) blurred by its own sigma (a sigma near 0 leaves it as it is)."""
    taps = torch.arange(-3, 4, device=x.device, dtype=x.dtype)
    kernels = torch.exp(-(taps**2) / (2 * sigmas.clamp_min(1e-3)[:, None] ** 2))
    kernels = kernels / kernels.sum(dim=1, keepdim=True)  # (N, 7): separable, one per image
    n = len(x)
    rows = F.conv2d(x.view(1, n, *x.shape[2:]), kernels.view(n, 1, 1, 7), padding=(0, 3), groups=n)
    both = F.conv2d(rows, kernels.view(n, 1, 7, 1), padding=(3, 0), groups=n)
    return both.view_as(x)


def random_erase(images: torch.Tensor, probability: float) -> torch.Tensor:
    """Blank one random rectangle of each image, with this probability, to 0 (background).

    The rectangle's area and aspect ratio are drawn from ERASE_AREA and ERASE_ASPECT (log-uniform),
    its place uniformly within the image: the model has to answer from the rest of the digit.
    Images (N, H, W) of any dtype in, the same out.
    """
    n, height, width = images.shape
    device = images.device
    area = torch.empty(n, device=device).uniform_(*ERASE_AREA) * height * width
    aspect = torch.empty(n, device=device).uniform_(*map(math.log, ERASE_ASPECT)).exp()
    tall = (area * aspect).sqrt().round().clamp(1, height)
    wide = (area / aspect).sqrt().round().clamp(1, width)
    top = (torch.rand(n, device=device) * (height - tall + 1)).floor()
    left = (torch.rand(n, device=device) * (width - wide + 1)).floor()
    rows = torch.arange(height, device=device).view(1, -1, 1)
    columns = torch.arange(width, device=device).view(1, 1, -1)
    top, left, tall, wide = (v.view(-1, 1, 1) for v in (top, left, tall, wide))
    inside = (rows >= top) & (rows < top + tall) & (columns >= left) & (columns < left + wide)
    chosen = (torch.rand(n, device=device) < probability).view(-1, 1, 1)
    return images.masked_fill(inside & chosen, 0)


def shifted_views(images: torch.Tensor, moves: int) -> torch.Tensor:
    """The images and ``moves`` copies moved by one pixel (TEST_TIME_MOVES' first ``moves``).

    (N, H, W) in, (1 + moves, N, H, W) out, of the same dtype, the images themselves first.
    """
    offsets = ((0, 0), *TEST_TIME_MOVES[:moves])
    return torch.stack([_moved(images, dx, dy) for dx, dy in offsets])


def _moved(images: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """The images moved by whole pixels; what comes in from outside is 0 (background)."""
    moved = torch.roll(images, (dy, dx), dims=(-2, -1))  # a copy: the edits below are its own
    if dy:  # the rows that came round from the other edge
        moved[..., slice(None, dy) if dy > 0 else slice(dy, None), :] = 0
    if dx:
        moved[..., slice(None, dx) if dx > 0 else slice(dx, None)] = 0
    return moved
