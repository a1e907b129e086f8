"""Inside the LSTM: its memory and its gates while it reads a digit, and which units decide.

Everything here draws from one function, ``core.unrolled.unroll``: the checkpoint's own LSTM
weights run through PyTorch's equations one step at a time (equal to nn.LSTM's states to 1e-5,
tests/core/test_unrolled.py). Three pictures of one layer (the last by default):

- the memory: each unit's cell state c after each row, a rows x units heatmap beside the digit,
  the units ordered by the row at which their memory changes most;
- the gates: per row, the mean over the units of how much the layer keeps (f), writes (i) and
  shows (o), each direction of a bidirectional layer on its own;
- what decides: each unit's share of the answer, the head's weight times the unit's last hidden
  state (``readout: mean``: its mean over the steps), summed with the bias to the answer's logit.
"""

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from lstm_mnist.core.unrolled import Unrolled, unroll
from lstm_mnist.tools.figures import plt
from lstm_mnist.tools.reading import blank_rows

VIEWS = ("memory", "gates", "decides")


@dataclass(frozen=True)
class Inside:
    """One digit read by one model, one layer seen from inside.

    Attributes:
        directions: The layer's directions (forward, then backward), each (steps, hidden).
        shares: Each unit of the last layer's share of the answer's logit (directions' units
            side by side): the units the head reads.
        bias: The head's bias for the answer (the rest of its logit).
        answer: The class answered.
        units: Each unit's label: ``7``, or ``f7``/``b7`` in a bidirectional layer.
        steps_are_rows: Whether step t reads image row t (``scan: rows``, no crop).
        readout: What the head reads: the last step's h, or the mean over the steps.
    """

    directions: list[Unrolled]
    shares: torch.Tensor
    bias: float
    answer: int
    units: list[str]
    steps_are_rows: bool
    readout: str = "last"

    @property
    def order(self) -> torch.Tensor:
        """The units by the step at which their memory changes most, first first."""
        c = torch.cat([d.c for d in self.directions], dim=-1)  # (steps, units)
        change = torch.cat([c[:1], c.diff(dim=0)]).abs()
        return torch.argsort(change.argmax(dim=0), stable=True)


@torch.no_grad()
def look_inside(model, data, digits: torch.Tensor, layer: int = -1) -> list[Inside]:
    """uint8 digits (N, 28, 28) -> how ``layer`` of the model's stack reads each of them."""
    sequences = model.stack_input(data.to_sequences(digits.to(model.device)))
    states = unroll(model.lstm, sequences)
    chosen = states[layer]
    last = states[-1]  # the head reads the last layer
    if model.hparams.readout == "mean":
        read = torch.cat([d.h.mean(dim=1) for d in last], dim=-1)
    else:  # the forward direction's last step; the backward's first, where it has read all
        read = torch.cat([d.h[:, -1 if k == 0 else 0] for k, d in enumerate(last)], dim=-1)
    logits = model.head(read)
    answers = logits.argmax(dim=-1)
    weights = model.head.weight[answers]  # (N, units)
    shares = weights * read  # the last layer's units: those the head reads
    hidden, both = model.hparams.hidden_size, len(chosen) == 2
    units = (
        [f"{d}{u}" for d in ("f", "b") for u in range(hidden)]
        if both
        else list(map(str, range(hidden)))
    )
    rows = data.scan == "rows" and not data.crop
    return [
        Inside(
            [
                Unrolled(*(getattr(d, f)[n].cpu() for f in ("i", "f", "g", "o", "c", "h")))
                for d in chosen
            ],
            shares[n].cpu(),
            float(model.head.bias[answers[n]]),
            int(answers[n]),
            units,
            rows,
            model.hparams.readout,
        )
        for n in range(len(digits))
    ]


def inside_figure(
    digits: torch.Tensor, insides: list[Inside], view: str, row: int | None = None
) -> Figure:
    """One view (``memory``, ``gates`` or ``decides``) of each digit; ``row`` marks a step.

    Args:
        digits: The digits, (N, 28, 28) uint8.
        insides: How the model read each (``look_inside``).
        view: Which picture.
        row: A step to mark (the demo's slider), or None.
    """
    figure, grid = plt.subplots(
        len(digits),
        2,
        figsize=(9, 4.2 * len(digits)),
        squeeze=False,
        gridspec_kw={"width_ratios": [1, 2.4]},
        layout="constrained",
    )
    for (image_axes, axes), digit, inside in zip(grid, digits.cpu(), insides, strict=True):
        image_axes.imshow(digit.numpy(), cmap="gray", vmin=0, vmax=255, aspect="auto")
        image_axes.set(xticks=[], title=f"reads {inside.answer}")
        image_axes.set_ylabel("row" if inside.steps_are_rows else "(the image)", fontsize=8)
        {"memory": _memory, "gates": _gates, "decides": _decides}[view](figure, axes, digit, inside)
        if row is not None and view != "decides":  # the row the demo's slider is at
            mark = axes.axhline if view == "memory" else axes.axvline
            mark(row, color="crimson", linewidth=1.2)
            image_axes.axhline(row + 0.5, color="crimson", linewidth=1.2)
    return figure


def inside_at_row(digit: torch.Tensor, inside: Inside, row: int) -> Figure:
    """The memory and the gates of one digit side by side, ``row`` marked: the demo's section."""
    figure, (memory, gates) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    _memory(figure, memory, digit, inside)
    _gates(figure, gates, digit, inside)
    memory.axhline(row, color="crimson", linewidth=1.2)
    gates.axvline(row, color="crimson", linewidth=1.2)
    return figure


def _memory(figure, axes, digit, inside: Inside) -> None:
    order = inside.order
    c = torch.cat([d.c for d in inside.directions], dim=-1)[:, order]
    limit = float(c.abs().max()) or 1.0
    shown = axes.imshow(
        c.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto", interpolation="none"
    )
    where = "row" if inside.steps_are_rows else "step"
    axes.set_ylabel(f"{where} (time step)", fontsize=8)
    labels = [inside.units[u] for u in order.tolist()]
    axes.set_xticks(range(len(labels)), labels, fontsize=5, rotation=90)
    axes.set_xlabel("unit, ordered by the row at which its memory changes most", fontsize=8)
    _hatch_blank(axes, digit, inside, horizontal=True)
    axes.set_title("the memory: each unit's cell state c after each row", fontsize=9)
    figure.colorbar(shown, ax=axes, fraction=0.04, label="c")


def _gates(figure, axes, digit, inside: Inside) -> None:
    steps = range(len(inside.directions[0].c))
    # A bidirectional layer's two directions read the rows in opposite orders: averaged together
    # they would hide what each does, so each gets its own line.
    ways = (
        [("-", " reading down"), ("--", " reading up")]
        if len(inside.directions) == 2
        else [("-", "")]
    )
    for gate, colour, meaning in (
        ("f", "tab:blue", "keeps (f)"),
        ("i", "tab:orange", "writes (i)"),
        ("o", "tab:green", "shows (o)"),
    ):
        for direction, (style, way) in zip(inside.directions, ways, strict=True):
            mean = getattr(direction, gate).mean(dim=-1)
            label = f"{meaning}{way}"
            axes.plot(list(steps), mean.numpy(), style, color=colour, label=label, linewidth=1.6)
    axes.set(ylim=(0, 1), xlim=(-0.5, len(steps) - 0.5))
    axes.set_xlabel(f"{'row' if inside.steps_are_rows else 'step'} (time step)", fontsize=8)
    axes.set_ylabel("mean over the layer's units", fontsize=8)
    _hatch_blank(axes, digit, inside, horizontal=False)
    axes.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=3)
    axes.set_title("the gates: how much the layer keeps, writes and shows at each row", fontsize=9)


def _decides(figure, axes, digit, inside: Inside) -> None:
    shares = inside.shares
    top = torch.argsort(shares.abs(), descending=True)[:16]
    colours = ["tab:green" if shares[u] > 0 else "tab:red" for u in top.tolist()]
    axes.barh(range(len(top)), shares[top].numpy(), color=colours)
    axes.set_yticks(range(len(top)), [f"unit {inside.units[u]}" for u in top.tolist()], fontsize=7)
    axes.invert_yaxis()
    logit = float(shares.sum()) + inside.bias
    read = "mean h" if inside.readout == "mean" else "last h"
    if inside.readout != "mean" and len(inside.directions) == 2:
        read = "h after all rows"  # the forward direction's last step, the backward's first
    total = f"all units + bias {inside.bias:.2f} = {logit:.2f}"
    axes.set_xlabel(f"share of the logit of {inside.answer}: weight x {read} ({total})", fontsize=8)
    axes.set_title("what decides: the units with the largest shares of the answer", fontsize=9)


def _hatch_blank(axes, digit, inside: Inside, horizontal: bool) -> None:
    if not inside.steps_are_rows:
        return
    for row in blank_rows(digit):  # nothing to read there
        span = axes.axhspan if horizontal else axes.axvspan
        span(row - 0.5, row + 0.5, facecolor="none", hatch="////", edgecolor="0.7", linewidth=0)
