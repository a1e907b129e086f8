"""``lstm-mnist explain``: watch the LSTM read a digit, row by row, and change its mind.

After each time step the model's head can be asked what it would answer had the image ended
there. The figure draws those class probabilities for chosen test digits as the scan moves down.
"""

import torch

from lstm_mnist.checkpoint import load_run
from lstm_mnist.errors import require
from lstm_mnist.figures import reading_figure
from lstm_mnist.reading import read_digits


@torch.inference_mode()
def explain(
    *,
    ckpt_path: str,
    index: list[int] | None = None,
    out: str = "reading.png",
    data_dir: str | None = None,
) -> None:
    """Draw the running class probabilities of chosen test digits into a PNG.

    Args:
        ckpt_path: A checkpoint written by ``fit`` (its data settings are reused).
        index: Test-set indices of the digits to draw, e.g. ``--index '[7, 42]'``; by default
            [0, 1, 2].
        out: The PNG file to write.
        data_dir: Where the data is, if not where the checkpoint's run found it.
    """
    model, data = load_run(ckpt_path, data_dir)
    data.prepare_data()
    data.setup("test")
    chosen = torch.tensor(index if index is not None else [0, 1, 2], dtype=torch.long)
    valid = chosen.numel() > 0 and chosen.min() >= 0 and chosen.max() < len(data.test_set)
    require(valid, "", "index", chosen.tolist(), f"must be in [0, {len(data.test_set) - 1}]")
    images, labels = data.test_set.images[chosen], data.test_set.labels[chosen]
    readings = read_digits(model, data, images)
    for i, label, reading in zip(chosen.tolist(), labels.tolist(), readings, strict=True):
        answer = f"answers {reading.answer} with p={reading.probs[-1].max():.2f}"
        where = "row" if reading.steps_are_rows else "step"
        print(f"test[{i}] (label {label}): {answer}, unchanged from {where} {reading.settled} on")
    figure = reading_figure(images, [[reading] for reading in readings], labels.tolist())
    figure.savefig(out, dpi=110, bbox_inches="tight")
    print(f"wrote {out}")
