"""Matplotlib figures for TensorBoard and PNG files: what the model got wrong, how it reads."""

import matplotlib

matplotlib.use("Agg")  # files and TensorBoard only; never a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from lstm_mnist.tools.reading import CAPTION, Reading, blank_rows  # noqa: E402


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
    images: torch.Tensor, labels: torch.Tensor, probs: torch.Tensor, limit: int = 32
) -> Figure:
    """The test digits the model got wrong, most confident mistakes first.

    Each is titled with its test index (for ``lstm-mnist explain --index``), 'true -> answer' and
    the probability the model gave its answer.
    """
    confidence, preds = probs.max(dim=-1)
    wrong = torch.nonzero(preds != labels).flatten()
    wrong = wrong[confidence[wrong].argsort(descending=True)][:limit]
    columns = 8
    rows = max(1, -(-len(wrong) // columns))
    figure, grid = plt.subplots(rows, columns, figsize=(columns * 1.3, rows * 1.6), squeeze=False)
    for axes in grid.flat:
        axes.axis("off")
    for axes, index in zip(grid.flat, wrong.tolist(), strict=False):
        axes.imshow(images[index].cpu().numpy(), cmap="gray")
        title = f"#{index}\n{labels[index]} -> {preds[index]} (p={confidence[index]:.2f})"
        axes.set_title(title, fontsize=8, color="crimson")
    total = int((preds != labels).sum())
    figure.suptitle(f"misclassified test digits: the {len(wrong)} most confident of {total}")
    figure.tight_layout()
    return figure


def reading_figure(
    images: torch.Tensor, readings: list[list[Reading]], labels: list[int | None] | None = None
) -> Figure:
    """Per digit: the image, and beside it each model's reading, row by row.

    A reading is a heatmap of the class probabilities after each time step: for ``scan: rows``
    it shares the image's vertical axis, so row t of the heatmap is the guess having read image
    rows 0..t. Blank rows are hatched, the row where the answer settles is marked, the true
    class is green and the final answer framed.

    Args:
        images: The digits, (digits, 28, 28) uint8.
        readings: For each digit, one Reading per model.
        labels: The true class of each digit, or None where unknown (a drawing).
    """
    labels = labels if labels is not None else [None] * len(images)
    models = max(len(row) for row in readings)
    figure, grid = plt.subplots(
        len(images),
        1 + models,
        figsize=(2.4 + 2.6 * models, 3.3 * len(images) + 0.4),
        squeeze=False,
        gridspec_kw={"width_ratios": [1.1] + [1] * models},
        layout="constrained",
    )
    for axes, image, row, label in zip(grid, images.cpu(), readings, labels, strict=True):
        _draw_digit(axes[0], image, label)
        for heat_axes, reading in zip(axes[1:], row, strict=False):
            shown = _draw_reading(heat_axes, reading, label, blank_rows(image), axes[0])
        for unused in axes[1 + len(row) :]:
            unused.axis("off")
    figure.colorbar(shown, ax=grid[:, 1:].ravel().tolist(), fraction=0.04, label="probability")
    figure.supxlabel(CAPTION, fontsize=7.5, wrap=True)
    return figure


def _draw_digit(axes, image: torch.Tensor, label: int | None) -> None:
    # as tall as the readings beside it, so that row t of the digit meets row t of each reading
    axes.imshow(image.numpy(), cmap="gray", vmin=0, vmax=255, aspect="auto")
    rows = range(len(image))
    axes.set_yticks(rows, [str(r) for r in rows], fontsize=5.5)
    axes.set_xticks([])
    axes.set_ylabel("row (time step)", fontsize=8)
    axes.set_title("the digit" if label is None else f"label {label}", fontsize=9)


def _draw_reading(axes, reading: Reading, label: int | None, blank: list[int], digit_axes):
    probs = reading.probs.numpy()
    steps, classes = probs.shape
    shown = axes.imshow(probs, cmap="Blues", vmin=0, vmax=1, aspect="auto", interpolation="none")
    if reading.steps_are_rows:
        axes.sharey(digit_axes)
        axes.tick_params(labelleft=False)
        for row in blank:  # nothing to read there: what the head says is its prior
            axes.axhspan(row - 0.5, row + 0.5, facecolor="none", hatch="////", edgecolor="0.6")
    else:
        axes.set_ylabel("time step", fontsize=8)
    answer, settled = reading.answer, reading.settled
    axes.add_patch(
        Rectangle((answer - 0.5, -0.5), 1, steps, fill=False, edgecolor="darkorange", linewidth=2)
    )
    axes.axhline(settled - 0.5, color="crimson", linewidth=1.2, linestyle="--")
    where = "row" if reading.steps_are_rows else "step"
    axes.set_xticks(range(classes), [str(c) for c in range(classes)], fontsize=8)
    for tick in axes.get_xticklabels():
        if label is not None and int(tick.get_text()) == label:
            tick.set(color="green", fontweight="bold")
    axes.set_xlabel(f"class; settles on {answer} at {where} {settled}", fontsize=8)
    name = f"{reading.name}\n" if reading.name else ""
    axes.set_title(f"{name}answers {answer} (p={probs[-1, answer]:.2f})", fontsize=9)
    return shown
