"""Investigation (issue "Records"): which test-time views lift a checkpoint, chosen on validation?

For each checkpoint, the validation (the fit's held-out 5,000) and test accuracy of the mean class
probabilities over sets of views: one-pixel shifts (4 or 8), two-pixel shifts, small rotations.
Choose a set on validation, then read its test column. Run from the project root:

    OMP_NUM_THREADS=1 python benchmarks/tta_views.py --data-dir ../shared/datasets CKPT [CKPT ...]
"""

import argparse
import math

import torch
import torch.nn.functional as F

from lstm_mnist.augment import TEST_TIME_MOVES, _affine_grid
from lstm_mnist.checkpoint import read_checkpoint, trained_settings
from lstm_mnist.data import MNISTDataModule
from lstm_mnist.model import LSTMClassifier


def moved(images: torch.Tensor, dx: float = 0, dy: float = 0, degrees: float = 0) -> torch.Tensor:
    """The images shifted by (dx, dy) pixels and turned by ``degrees`` (float, 0-255)."""
    n, height, width = images.shape
    angle = torch.full((n,), math.radians(degrees))
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack(
        [
            torch.stack([cos, -sin, torch.full((n,), -dx * 2 / width)], dim=1),
            torch.stack([sin, cos, torch.full((n,), -dy * 2 / height)], dim=1),
        ],
        dim=1,
    )
    grid = _affine_grid(theta, height, width)
    return F.grid_sample(images.float().unsqueeze(1), grid, align_corners=False).squeeze(1)


VIEWS = {
    "plain": [(0, 0, 0)],
    "shifts4": [(0, 0, 0), *((dx, dy, 0) for dx, dy in TEST_TIME_MOVES[:4])],
    "shifts8": [(0, 0, 0), *((dx, dy, 0) for dx, dy in TEST_TIME_MOVES)],
    "shifts8+2px": [(0, 0, 0), *((dx, dy, 0) for dx, dy in TEST_TIME_MOVES)]
    + [(2, 0, 0), (-2, 0, 0), (0, 2, 0), (0, -2, 0)],
    "shifts8+rot5": [(0, 0, 0), *((dx, dy, 0) for dx, dy in TEST_TIME_MOVES)]
    + [(0, 0, 5), (0, 0, -5)],
    "shifts8+rot5,10": [(0, 0, 0), *((dx, dy, 0) for dx, dy in TEST_TIME_MOVES)]
    + [(0, 0, 5), (0, 0, -5), (0, 0, 10), (0, 0, -10)],
    "shifts8 x rot5": [
        (dx, dy, r) for dx, dy in ((0, 0), *TEST_TIME_MOVES) for r in (0, 5, -5)
    ],
}


def mean_probabilities(model, data, images, views) -> torch.Tensor:
    total = 0
    for dx, dy, degrees in views:
        seqs = torch.cat([data.transform(moved(part, dx, dy, degrees)) for part in images.split(2000)])
        total = total + torch.cat([model(s).softmax(-1) for s in seqs.split(2000)])
    return total / len(views)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--data-dir", default="data")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for path in args.checkpoints:
        model = LSTMClassifier.load_from_checkpoint(path, map_location="cpu").eval()
        settings = trained_settings(read_checkpoint(path))["data"]
        data = MNISTDataModule(args.data_dir, download=False, **settings)
        data.setup("fit")
        data.setup("test")
        row = {}
        with torch.inference_mode():
            for name, views in VIEWS.items():
                for split in ("val", "test"):
                    held = getattr(data, f"{split}_set")
                    probs = mean_probabilities(model, data, held.images, views)
                    acc = (probs.argmax(-1) == held.labels).float().mean().item()
                    row[f"{name} {split}"] = round(100 * acc, 2)
        print(path, row, flush=True)


if __name__ == "__main__":
    main()
