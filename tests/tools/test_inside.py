"""Inside the LSTM: the memory, the gates and what decides, true to the model, drawn for a user."""

import pytest
import torch

from lstm_mnist.cli import LSTMMnistCLI
from lstm_mnist.core.data import MNISTDataModule
from lstm_mnist.core.model import LSTMClassifier
from lstm_mnist.tools.inside import VIEWS, inside_figure, look_inside
from tests.helpers import CONFIGS, in_process, lstm_mnist

PNG = b"\x89PNG\r\n\x1a\n"


def model_and_data(tiny_data_dir, config: str, *overrides: str):
    args = ["--config", str(CONFIGS / config), "--data.data_dir", str(tiny_data_dir), *overrides]
    cli = LSTMMnistCLI(LSTMClassifier, MNISTDataModule, args=args, run=False)
    cli.datamodule.prepare_data()
    cli.datamodule.setup("test")
    return cli.model.eval(), cli.datamodule


@pytest.mark.parametrize(
    ("config", "overrides"),
    [
        ("default.yaml", []),  # the seed: the last step's h of one direction
        ("bidirectional.yaml", []),  # forward's last step, backward's first
        ("default.yaml", ["--model.readout", "mean"]),  # the mean of h over the steps
    ],
    ids=["last", "bidirectional", "mean"],
)
def test_the_units_shares_and_the_bias_add_up_to_the_models_logit(config, overrides, tiny_data_dir):
    model, data = model_and_data(tiny_data_dir, config, *overrides)
    digits = data.test_set.images[:4]
    insides = look_inside(model, data, digits)
    with torch.no_grad():
        logits = model(data.to_sequences(digits))
    for inside, logit in zip(insides, logits, strict=True):
        assert inside.answer == int(logit.argmax())
        total = float(inside.shares.sum()) + inside.bias
        assert total == pytest.approx(float(logit[inside.answer]), abs=1e-4)


def test_the_memory_has_a_row_per_step_and_a_column_per_unit(tiny_data_dir):
    model, data = model_and_data(tiny_data_dir, "bidirectional.yaml")
    (inside,) = look_inside(model, data, data.test_set.images[:1], layer=0)
    figure = inside_figure(data.test_set.images[:1], [inside], "memory")
    (heatmap,) = figure.axes[1].images
    assert heatmap.get_array().shape == (28, 2 * model.hparams.hidden_size)
    assert sorted(inside.order.tolist()) == list(range(2 * model.hparams.hidden_size))


@pytest.mark.parametrize(("config", "lines"), [("default.yaml", 3), ("bidirectional.yaml", 6)])
def test_the_gates_get_a_line_per_gate_and_direction(config, lines, tiny_data_dir):
    model, data = model_and_data(tiny_data_dir, config)
    insides = look_inside(model, data, data.test_set.images[:1])
    figure = inside_figure(data.test_set.images[:1], insides, "gates", row=5)
    drawn = [line for line in figure.axes[1].lines if line.get_label().startswith(("keeps", "wr"))]
    assert len(drawn) == 2 * lines // 3
    assert len(figure.axes[1].get_legend().get_texts()) == lines


def test_explain_draws_each_view_of_a_real_model(tiny_data_dir, tmp_path, capsys):
    # the packaged model: a real checkpoint (bidirectional, 2 layers), here on the tiny test set;
    # the first view through the installed script, the others in-process (the same door)
    options = ["--index", "[0, 1]", "--data_dir", tiny_data_dir]
    first, *others = VIEWS
    result = lstm_mnist("explain", "--view", first, *options, "--out", f"{first}.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "the pretrained model in the package" in result.stderr + result.stdout
    assert "test[1] (label 1): answers" in result.stdout
    for view in others:  # without --out: <view>.png
        done = in_process("explain", "--view", view, *options, cwd=tmp_path, capsys=capsys)
        assert done.returncode == 0, done.stderr[-3000:]
    for view in VIEWS:
        assert (tmp_path / f"{view}.png").read_bytes()[:8] == PNG
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(f"{v}.png" for v in VIEWS)
