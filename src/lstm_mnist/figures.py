"""Matplotlib figures for TensorBoard and PNG files: what the model got wrong, how it reads."""

import matplotlib

matplotlib.use("Agg")  # files and TensorBoard only; never a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def confusion_matrix_figure(matrix: torch.Tensor) -> Figure:
    """Counts of (true, predicted) classes; the diagonal is what the model got right."""
    figure, axes = plt.subplots(figsize=(6, 5.5))
    counts = matrix.cpu().numpy()
    axes.imshow(np.log1p(counts), cmap="Blues")
    for (true, pred), count in np.ndenumerate(counts):
        if count:
            colour = "white" if true == pred else "black"
            axes.text(pred, true, str(count), ha="center", va="center", fontsize=7, color=colour)
    classes = range(len(counts))
    axes.set(xticks=classes, yticks=classes, xlabel="predicted", ylabel="true")
    axes.set_title(f"test confusion matrix ({int(counts.trace())}/{int(counts.sum())} right)")
    figure.tight_layout()
    return figure


def misclassified_figure(
    images: torch.Tensor, labels: torch.Tensor, preds: torch.Tensor, limit: int = 32
) -> Figure:
    """A grid of test digits the model got wrong, titled 'true -> predicted'."""
    wrong = torch.nonzero(preds != labels).flatten()[:limit]
    columns = 8
    rows = max(1, -(-len(wrong) // columns))
    figure, grid = plt.subplots(rows, columns, figsize=(columns * 1.2, rows * 1.35), squeeze=False)
    for axes in grid.flat:
        axes.axis("off")
    for axes, index in zip(grid.flat, wrong.tolist(), strict=False):
        axes.imshow(images[index].cpu(), cmap="gray")
        axes.set_title(f"{labels[index]} -> {preds[index]}", fontsize=9, color="crimson")
    figure.suptitle(
        f"misclassified test digits: first {len(wrong)} of {int((preds != labels).sum())}"
    )
    figure.tight_layout()
    return figure


def reading_figure(images: torch.Tensor, running: torch.Tensor, labels: torch.Tensor) -> Figure:
    """Per digit: the image, and the class probabilities after each time step (row).

    ``running`` is (digits, steps, classes): the LSTM's guess as the scan moves down the image.
    """
    count, steps, classes = running.shape
    figure, grid = plt.subplots(
        count, 2, figsize=(9, 2.4 * count), squeeze=False, gridspec_kw={"width_ratios": [1, 3]}
    )
    for (image_axes, curve_axes), image, probs, label in zip(
        grid, images.cpu(), running.cpu(), labels.tolist(), strict=True
    ):
        image_axes.imshow(image, cmap="gray")
        image_axes.axis("off")
        image_axes.set_title(f"label {label}")
        for digit in range(classes):
            width = 2.5 if digit == label else 1.0
            curve_axes.plot(range(1, steps + 1), probs[:, digit], linewidth=width, label=str(digit))
        final = int(probs[-1].argmax())
        curve_axes.set(
            ylim=(0, 1.02),
            xlim=(1, steps),
            xlabel="time steps read (rows)",
            ylabel="probability",
            title=f"running guess; final: {final}",
        )
        curve_axes.legend(ncol=5, fontsize=7, loc="upper left")
    figure.tight_layout()
    return figure
