"""``lstm-mnist explain``: watch the LSTM read a digit, row by row, and change its mind.

After each time step the model's head can be asked what it would answer had the image ended
there. The figure draws those class probabilities for chosen test digits as the scan moves down.
"""

from pathlib import Path
from typing import Literal

import torch
from matplotlib.backend_bases import FigureCanvasBase

from lstm_mnist.core.errors import OptionError, require
from lstm_mnist.runs.run import load_trained, writable_file
from lstm_mnist.tools.figures import reading_figure
from lstm_mnist.tools.inside import inside_figure, look_inside
from lstm_mnist.tools.reading import read_digits


@torch.inference_mode()
def explain(
    *,
    ckpt_path: str | None = None,
    index: list[int] | int | None = None,
    out: str | None = None,
    data_dir: str | None = None,
    view: Literal["reading", "memory", "gates", "decides"] = "reading",
    layer: int = -1,
) -> None:
    """Draw the running class probabilities of chosen test digits into a PNG.

    Args:
        ckpt_path: A checkpoint written by ``fit`` (its data settings are reused), or ``last``
            or ``best``; by default the model that ships inside the package.
        index: Test-set indices of the digits to draw, e.g. ``--index 7`` or
            ``--index '[7, 42]'``; by default [0, 1, 2].
        out: The image file to write (default: ``<view>.png``): PNG, or another format
            matplotlib writes (by its suffix: .svg, .pdf, ...); its folder is created.
        data_dir: Where the data is, if not where the checkpoint's run found it.
        view: ``reading``: the guess after each row. Inside the LSTM (docs/lstm.md):
            ``memory``, each unit's cell state after each row; ``gates``, how much a layer
            keeps, writes and shows at each row; ``decides``, each unit's share of the answer.
        layer: The layer of the stack that ``memory`` and ``gates`` show (-1: the last).
    """
    destination = _figure_file(Path(out or f"{view}.png"), view)  # before the model is read
    indices = [index] if isinstance(index, int) else index if index is not None else [0, 1, 2]
    require(bool(indices), "", "index", indices, "names no digit: give at least one index")
    model, data = load_trained(ckpt_path, data_dir)  # says so when it is the packaged model
    data.prepare_data()
    data.setup("test")
    chosen = torch.tensor(indices, dtype=torch.long)
    valid = chosen.min() >= 0 and chosen.max() < len(data.test_set)
    require(valid, "", "index", indices, f"must be in [0, {len(data.test_set) - 1}]")
    images, labels = data.test_set.images[chosen], data.test_set.labels[chosen]
    readings = read_digits(model, data, images)
    for i, label, reading in zip(chosen.tolist(), labels.tolist(), readings, strict=True):
        answer = f"answers {reading.answer} with p={reading.probs[-1].max():.2f}"
        where = "row" if reading.steps_are_rows else "step"
        print(f"test[{i}] (label {label}): {answer}, unchanged from {where} {reading.settled} on")
    if view == "reading":
        figure = reading_figure(images, [[reading] for reading in readings], labels.tolist())
    else:
        layers = model.hparams.num_layers
        require(
            -layers <= layer < layers, "", "layer", layer, f"must be in [{-layers}, {layers - 1}]"
        )
        figure = inside_figure(images, look_inside(model, data, images, layer), view)
    destination.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(destination, dpi=110, bbox_inches="tight")
    print(f"wrote {destination}")


def _figure_file(path: Path, view: str) -> Path:
    """``path`` if matplotlib writes its format (a name without a suffix is a PNG)."""
    if path.is_dir():
        raise OptionError(
            f"--out={str(path)!r} is a folder: give a file, e.g. {path / f'{view}.png'}"
        )
    path = path if path.suffix else path.with_name(f"{path.name}.png")
    formats = FigureCanvasBase.get_supported_filetypes()
    if path.suffix.lower().lstrip(".") not in formats:
        raise OptionError(
            f"--out={str(path)!r}: matplotlib writes no {path.suffix} files; use .png, or one "
            f"of {', '.join('.' + name for name in sorted(formats))}"
        )
    return writable_file(path, f"{view}.png")
