"""The LSTM unrolled: its gates and its memory at every step, from the model's own weights.

``nn.LSTM`` runs the steps inside one fused kernel and returns only the hidden states (and the
last step's memory). To see what an LSTM does while it reads, this runs the same equations as
PyTorch documents them, one step at a time, with the layer's own weights:

    i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)   input gate: how much of the new candidate to write
    f = sigmoid(W_if x + b_if + W_hf h + b_hf)   forget gate: how much of the memory to keep
    g = tanh(W_ig x + b_ig + W_hg h + b_hg)      the candidate: what the step would write
    o = sigmoid(W_io x + b_io + W_ho h + b_ho)   output gate: how much of the memory to show
    c' = f * c + i * g                           the memory (cell state) carried to the next step
    h' = o * tanh(c')                            what the layer shows (its output, the next input)

tests/core/test_unrolled.py checks that its h and c equal nn.LSTM's, for every shipped config.
"""

from dataclasses import dataclass

import torch
from torch import nn

GATES = ("i", "f", "g", "o")  # PyTorch's order of the four blocks of weight_ih and weight_hh


@dataclass(frozen=True)
class Unrolled:
    """One direction of one layer, at every step (batch, steps, hidden).

    A backward direction's step t is where it stands in the sequence: having read steps
    T-1 .. t, as ``nn.LSTM`` stores it.
    """

    i: torch.Tensor
    f: torch.Tensor
    g: torch.Tensor
    o: torch.Tensor
    c: torch.Tensor
    h: torch.Tensor


@torch.no_grad()
def unroll(lstm: nn.LSTM, x: torch.Tensor) -> list[list[Unrolled]]:
    """Every layer's gates and states for sequences ``x`` (batch, steps, features).

    Returns:
        For each layer, one Unrolled per direction (forward, then backward if bidirectional).
        The last layer's h (directions side by side) is ``lstm(x)[0]``.
    """
    if not lstm.batch_first or lstm.proj_size:
        raise ValueError("unroll reads batch-first LSTMs without projections (as the model's)")
    layers, inputs = [], x
    for layer in range(lstm.num_layers):
        directions = [_direction(lstm, layer, "", inputs)]
        if lstm.bidirectional:
            backward = _direction(lstm, layer, "_reverse", inputs.flip(1))
            directions.append(Unrolled(*(state.flip(1) for state in _fields(backward))))
        layers.append(directions)
        inputs = torch.cat([d.h for d in directions], dim=-1)  # (dropout acts in training only)
    return layers


def _direction(lstm: nn.LSTM, layer: int, suffix: str, x: torch.Tensor) -> Unrolled:
    """One direction of one layer over the steps of x, in x's order."""
    weight_ih = getattr(lstm, f"weight_ih_l{layer}{suffix}")
    weight_hh = getattr(lstm, f"weight_hh_l{layer}{suffix}")
    bias = getattr(lstm, f"bias_ih_l{layer}{suffix}") + getattr(lstm, f"bias_hh_l{layer}{suffix}")
    batch, hidden = len(x), lstm.hidden_size
    h = c = x.new_zeros(batch, hidden)
    projected = x @ weight_ih.T + bias  # every step's input part at once
    steps = []
    for t in range(x.shape[1]):
        i, f, g, o = (projected[:, t] + h @ weight_hh.T).chunk(4, dim=-1)
        i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
        c = f * c + i * g
        h = o * c.tanh()
        steps.append((i, f, g, o, c, h))
    return Unrolled(*(torch.stack(states, dim=1) for states in zip(*steps, strict=True)))


def _fields(unrolled: Unrolled) -> tuple[torch.Tensor, ...]:
    return (unrolled.i, unrolled.f, unrolled.g, unrolled.o, unrolled.c, unrolled.h)
