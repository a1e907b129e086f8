"""``lstm-mnist demo``: a page where a learner draws a digit and watches the LSTM read it.

The drawing (or a photo) goes through ``predict``'s preparation (images.py) and each model's own
preprocessing (``Classifier``: the data module's ImageToSequence); the page shows the 28x28
digit the model sees, the answer, the reading row by row, and a slider that reveals the digit
down to a row beside the guess there. Gradio is an optional extra:
``pip install 'lstm-mnist[demo]'``.
"""

import io
import os
from pathlib import Path

import numpy as np
import torch
from jsonargparse.typing import restricted_number_type
from PIL import Image

from lstm_mnist.core.errors import LstmMnistError
from lstm_mnist.core.images import ImageError, image_digit, load_digit
from lstm_mnist.tools.classifier import Classifier
from lstm_mnist.tools.figures import plt, reading_figure
from lstm_mnist.tools.inside import inside_at_row
from lstm_mnist.tools.reading import Reading, blank_rows

ROWS = 28
# Click the pad's brush (its button is labelled "Brush") once Gradio has drawn it.
SELECT_BRUSH = """() => {
  const started = Date.now();
  const timer = setInterval(() => {
    const brush = document.querySelector('#pad button[aria-label="Brush"]');
    if (brush || Date.now() - started > 10000) clearInterval(timer);
    if (brush) brush.click();
  }, 100);
}"""
Port = restricted_number_type("Port", int, [(">", 0), ("<", 65536)])
_VIEW = 10  # each of the 28x28 pixels drawn as a 10x10 block: a digit the eye can read


def demo(
    *,
    ckpt_path: list[str] | None = None,
    name: list[str] | None = None,
    host: str = "127.0.0.1",
    port: Port = 7860,
) -> None:
    """Serve the page until Ctrl-C.

    Args:
        ckpt_path: Checkpoints written by ``fit`` (or ``last``, ``best``); repeat
            ``--ckpt_path`` to read with several models side by side. By default the model that
            ships inside the package.
        name: A label per checkpoint, in the same order (default: run folder and file name).
        host: The address to serve on (127.0.0.1: this computer only).
        port: The port to serve on.
    """
    if not ckpt_path:
        readers = [Classifier.pretrained()]
        print(
            f"demo: the pretrained model in the package ({readers[0].path}); --ckpt_path for yours"
        )
    else:
        names = name or [None] * len(ckpt_path)
        if len(names) != len(ckpt_path):
            raise LstmMnistError(f"demo: {len(names)} --name for {len(ckpt_path)} --ckpt_path")
        readers = [Classifier(path, label) for path, label in zip(ckpt_path, names, strict=True)]
    page = build_page(readers)
    try:
        page.launch(server_name=host, server_port=port, ssr_mode=False, footer_links=[])
    except OSError as err:  # the port is taken, or the address is not this machine's
        raise LstmMnistError(f"demo: cannot serve on {host}:{port} ({err}): pass --port") from None


def read_drawing(drawing, readers: list[Classifier]) -> tuple:
    """The page's answer to a sketchpad's value (a dict whose ``composite`` is an RGBA image)."""
    image = (drawing or {}).get("composite")
    if image is None:
        return _message("Draw a digit, or drop a photo.", len(readers))
    return _answer(lambda: image_digit(image), readers)


def read_photo(path: str | None, readers: list[Classifier]) -> tuple:
    """The page's answer to a dropped image file (any size, either polarity)."""
    if not path:
        return _message("Draw a digit, or drop a photo.", len(readers))
    return _answer(lambda: _named_load(path), readers)


def at_row(row: int, state: dict | None, readers: list[Classifier]) -> tuple:
    """The digit revealed down to ``row``, inside the first model there, each model's top 3."""
    if not state:
        return (None, None, *[None] * len(readers))
    digit, readings = torch.tensor(state["digit"], dtype=torch.uint8), state["readings"]
    steps = [_step(row, reader, len(p)) for reader, p in zip(readers, readings, strict=True)]
    revealed = digit.clone()
    revealed[readers[0].data.transform.step_of_pixel() > steps[0]] //= 5  # still to come, dimmed
    guesses = [Reading(torch.tensor(p)).top(3, s) for p, s in zip(readings, steps, strict=True)]
    (inside,) = readers[0].inside(digit[None])  # its gates and memory, row by row: cheap to redo
    return (_view(revealed), _png(inside_at_row(digit, inside, steps[0])), *guesses)


def _named_load(path: str) -> torch.Tensor:
    try:
        return load_digit(path)
    except ImageError as err:  # name the file the user dropped, not Gradio's copy of it
        raise ImageError(str(err).replace(str(path), Path(path).name)) from None


def _answer(load, readers: list[Classifier]) -> tuple:
    try:
        digit = load()
    except ImageError as err:
        return _message(f"**Cannot read this:** {err}", len(readers))
    readings = [reader.read_digits(digit[None])[0] for reader in readers]
    figure = reading_figure(digit[None], [readings])
    summary = "\n".join(_summary(reading, digit) for reading in readings)
    state = {"digit": digit.tolist(), "readings": [r.probs.tolist() for r in readings]}
    labels = [reading.top() for reading in readings]
    return (_view(digit), *labels, _png(figure), summary, state, ROWS - 1)


def _summary(reading: Reading, digit: torch.Tensor) -> str:
    where = "row" if reading.steps_are_rows else "step"
    blank = len(blank_rows(digit))
    return (
        f"- **{reading.name}** reads **{reading.answer}** (p={reading.probs[-1].max():.2f}); "
        f"it settles on {reading.answer} at {where} {reading.settled}; {blank} blank rows"
    )


def _message(text: str, models: int) -> tuple:
    return (None, *[None] * models, None, text, None, ROWS - 1)


def _step(row: int, reader: Classifier, steps: int) -> int:
    """The last time step read once rows 0..row are read; other scans: that share of the steps.

    Rows: the row's own step, row - crop; above a crop (rows never read) the first step, below
    it the last.
    """
    if reader.data.scan == "rows":
        return min(max(int(row) - reader.data.crop, 0), steps - 1)
    return (int(row) + 1) * steps // ROWS - 1


def _view(digit: torch.Tensor) -> np.ndarray:
    return np.kron(digit.numpy(), np.ones((_VIEW, _VIEW), np.uint8))


def _png(figure) -> Image.Image:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)  # pyplot keeps every figure it made: a server would grow with each request
    buffer.seek(0)
    return Image.open(buffer)


def build_page(readers: list[Classifier]):
    """The Gradio Blocks of the page (not yet served)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # offline: no calls home
    try:
        import gradio as gr
    except ImportError:
        raise LstmMnistError("the demo needs Gradio: pip install 'lstm-mnist[demo]'") from None
    with gr.Blocks(title="lstm-mnist: watch it read") as page:
        gr.Markdown(
            "# Watch the LSTM read\nDraw a digit (or drop a photo). The model reads it one row "
            "per time step, top to bottom; the reading shows what it would answer after each row."
        )
        with gr.Row():
            with gr.Column():
                with gr.Tab("Draw"):
                    sketch = gr.Sketchpad(
                        type="pil", canvas_size=(280, 280), label="Draw here", elem_id="pad"
                    )
                with gr.Tab("Photo"):
                    photo = gr.File(label="Drop a photo", file_types=["image"], elem_id="photo")
                seen = gr.Image(label="What the model sees (28x28)", interactive=False)
            with gr.Column():
                answers = [gr.Label(num_top_classes=3, label=r.name) for r in readers]
                summary = gr.Markdown(elem_id="summary")
        reading = gr.Image(label="The reading, row by row", interactive=False, elem_id="reading")
        with gr.Row():
            row = gr.Slider(0, ROWS - 1, value=ROWS - 1, step=1, label="Read down to row")
            revealed = gr.Image(label="Read so far", interactive=False)
            guesses = [gr.Label(num_top_classes=3, label=f"{r.name} at this row") for r in readers]
        gr.Markdown(
            "## Inside the LSTM\nIts memory (each unit's cell state c) after each row, and how "
            "much its last layer keeps (f), writes (i) and shows (o) at each row "
            f"({readers[0].name}); the red line follows the slider. More: docs/lstm.md."
        )
        inside = gr.Image(label="Memory and gates", interactive=False, elem_id="inside")
        state = gr.State()
        outputs = [seen, *answers, reading, summary, state, row]

        def show_row(t, s):
            return at_row(t, s, readers)

        # The API has three endpoints: read_drawing, read_photo and row; the refresh of the
        # slider's view after a read is the page's own (the slider may already be at row 27).
        slider_view = ([row, state], [revealed, inside, *guesses])
        sketch.change(
            lambda d: read_drawing(d, readers), sketch, outputs, api_name="read_drawing"
        ).then(show_row, *slider_view, api_visibility="private")
        photo.change(lambda p: read_photo(p, readers), photo, outputs, api_name="read_photo").then(
            show_row, *slider_view, api_visibility="private"
        )
        row.change(show_row, *slider_view, api_name="row")
        # Gradio opens the pad with no tool selected ("select the draw tool to start") and has
        # no setting for it: the page selects the brush itself, with the load event's own JS.
        page.load(None, js=SELECT_BRUSH)
    return page
