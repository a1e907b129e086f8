"""Investigation (issue "Records"): does test-time augmentation lift a checkpoint's accuracy?

Averages the softmax over each test digit and copies moved by one pixel: 4 (tta5: left, right,
up, down) or 8 (tta9: and the diagonals). Run from the project root:

    OMP_NUM_THREADS=1 python benchmarks/tta.py --data-dir ../shared/datasets CKPT [CKPT ...]
"""

import argparse

import torch

from lstm_mnist.data import MNISTDataModule
from lstm_mnist.model import LSTMClassifier

SIDES = ((1, 0), (-1, 0), (0, 1), (0, -1))
DIAGONALS = ((1, 1), (-1, 1), (1, -1), (-1, -1))


def shifted(images: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """The images moved by (dx, dy) whole pixels; what comes in from outside is background."""
    return torch.roll(images, (dy, dx), dims=(1, 2)) * _kept(images.shape[1:], dx, dy)


def _kept(size: tuple[int, int], dx: int, dy: int) -> torch.Tensor:
    mask = torch.ones(size, dtype=torch.uint8)
    mask[: max(dy, 0)] = 0  # rows that came round from the bottom
    mask[size[0] + min(dy, 0) :] = 0  # ... from the top
    mask[:, : max(dx, 0)] = 0
    mask[:, size[1] + min(dx, 0) :] = 0
    return mask


def probabilities(model, data: MNISTDataModule, images: torch.Tensor) -> torch.Tensor:
    """The model's class probabilities for uint8 images, in chunks of 1,000."""
    chunks = images.split(1000)
    return torch.cat([model(data.to_sequences(chunk)).softmax(-1) for chunk in chunks])


def main() -> None:
    """Print each checkpoint's plain, tta5 and tta9 test accuracy."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--data-dir", default="data")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for path in args.checkpoints:
        model = LSTMClassifier.load_from_checkpoint(path, map_location="cpu").eval()
        data = MNISTDataModule(args.data_dir, download=False, normalization="standardize")
        data.setup("test")
        images, labels = data.test_set.images, data.test_set.labels

        with torch.inference_mode():
            plain = probabilities(model, data, images)
            sides = sum(probabilities(model, data, shifted(images, *move)) for move in SIDES)
            diagonals = sum(probabilities(model, data, shifted(images, *m)) for m in DIAGONALS)
        scores = {"plain": plain, "tta5": plain + sides, "tta9": plain + sides + diagonals}
        accuracy = {k: (v.argmax(-1) == labels).float().mean().item() for k, v in scores.items()}
        print(path, {k: round(v * 100, 2) for k, v in accuracy.items()}, flush=True)


if __name__ == "__main__":
    main()
