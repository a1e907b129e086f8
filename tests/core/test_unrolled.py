"""The unrolled LSTM is nn.LSTM: its h and c equal nn.LSTM's, for every shipped config."""

import pytest
import torch
from torch import nn

from lstm_mnist.cli import LSTMMnistCLI
from lstm_mnist.core.data import MNISTDataModule
from lstm_mnist.core.model import LSTMClassifier
from lstm_mnist.core.unrolled import unroll
from tests.helpers import CONFIGS

SHIPPED = sorted(CONFIGS.glob("*.yaml"))


def model_of(config, tiny_data_dir) -> LSTMClassifier:
    args = ["--config", str(config), "--data.data_dir", str(tiny_data_dir)]
    return LSTMMnistCLI(LSTMClassifier, MNISTDataModule, args=args, run=False).model


def assert_equals_nn_lstm(lstm: nn.LSTM, x: torch.Tensor) -> None:
    layers = unroll(lstm, x)
    output, (h_n, c_n) = lstm(x)
    torch.testing.assert_close(
        torch.cat([d.h for d in layers[-1]], dim=-1), output, atol=1e-5, rtol=0
    )
    directions = 2 if lstm.bidirectional else 1
    inputs = x
    for layer, states in enumerate(layers):
        for direction, unrolled in enumerate(states):
            end = 0 if direction else -1  # a backward direction ends at the first step
            index = layer * directions + direction
            torch.testing.assert_close(unrolled.h[:, end], h_n[index], atol=1e-5, rtol=0)
            torch.testing.assert_close(unrolled.c[:, end], c_n[index], atol=1e-5, rtol=0)
        # every step of this layer: one layer of nn.LSTM with its weights, on its own input,
        # and its memory after each of a few prefixes (forward)
        single = nn.LSTM(
            inputs.shape[-1], lstm.hidden_size, batch_first=True, bidirectional=lstm.bidirectional
        )
        for name, _ in single.named_parameters():
            getattr(single, name).data.copy_(getattr(lstm, name.replace("_l0", f"_l{layer}")))
        out, _ = single(inputs)
        torch.testing.assert_close(torch.cat([d.h for d in states], dim=-1), out, atol=1e-5, rtol=0)
        for t in (0, x.shape[1] // 2, x.shape[1] - 1):
            _, (_, c_t) = single(inputs[:, : t + 1])
            torch.testing.assert_close(states[0].c[:, t], c_t[0], atol=1e-5, rtol=0)
        inputs = out


@pytest.mark.parametrize("config", SHIPPED, ids=lambda path: path.name)
def test_the_unrolled_reading_of_every_shipped_config_is_nn_lstms(config, tiny_data_dir):
    torch.manual_seed(0)
    model = model_of(config, tiny_data_dir).eval()
    steps, features = model.hparams.seq_len, model.hparams.input_size
    x = torch.randn(3, steps, features)
    assert_equals_nn_lstm(model.lstm, model.stack_input(x))


def test_the_hierarchical_reader_is_unrolled_as_well(tiny_data_dir):
    # Not a shipped config (the fashion grid's rows): the row reader, then the stack.
    torch.manual_seed(0)
    model = LSTMClassifier(hidden_size=6, num_layers=2, row_hidden_size=4, init="keras").eval()
    x = torch.randn(2, 28, 28)
    assert_equals_nn_lstm(model.row_reader, x.reshape(56, 28, 1))
    assert_equals_nn_lstm(model.lstm, model.stack_input(x))


def test_the_gates_are_what_the_equations_say():
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 2, batch_first=True)
    (states,) = unroll(lstm, torch.randn(1, 4, 3))
    layer = states[0]
    assert ((layer.f > 0) & (layer.f < 1)).all()
    assert ((layer.g > -1) & (layer.g < 1)).all()
    torch.testing.assert_close(
        layer.c[:, 1], layer.f[:, 1] * layer.c[:, 0] + layer.i[:, 1] * layer.g[:, 1]
    )
    torch.testing.assert_close(layer.h, layer.o * layer.c.tanh())
