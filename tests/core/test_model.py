import math

import pytest
import torch
import torch.nn.functional as F

from lstm_mnist.core.model import LSTMClassifier


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("input_size", "keras_count"),
    [(28, 24_778), (42, 26_570)],  # the seed's two models, as Keras counts them
)
def test_parameter_count_is_keras_plus_the_second_bias(input_size, keras_count):
    model = LSTMClassifier(input_size=input_size)
    second_biases = 3 * 4 * 32  # PyTorch's bias_hh, which Keras does not have
    assert count_parameters(model) == keras_count + second_biases


def test_output_shape_and_any_sequence_length():
    model = LSTMClassifier(input_size=5, hidden_size=8, num_layers=2, dropout=0.1)
    assert model(torch.randn(4, 28, 5)).shape == (4, 10)
    assert model(torch.randn(3, 784, 5)).shape == (3, 10)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("input_size", 0),
        ("hidden_size", 0),
        ("num_layers", 0),
        ("dropout", 1.0),
        ("label_smoothing", 1.0),
        ("row_hidden_size", -1),
    ],
)
def test_bad_options_name_the_option(option, value):
    with pytest.raises(ValueError, match=f"{option}={value}"):
        LSTMClassifier(**{option: value})


def test_default_optimizer_learns_a_batch():
    torch.manual_seed(0)
    model = LSTMClassifier(input_size=28)
    # A learnable toy task: the label says which of the last 10 rows is lit.
    labels = torch.arange(64) % 10
    sequences = 0.1 * torch.rand(64, 28, 28)
    sequences[torch.arange(64), 18 + labels] = 1.0
    optimizer = model.configure_optimizers()
    losses = []
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(model(sequences), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_several_views_of_each_sample_are_answered_with_their_mean_probabilities():
    # The data module's test-time shifts: (views, batch, steps, features).
    torch.manual_seed(0)
    model = LSTMClassifier(hidden_size=8).eval()
    views = torch.randn(3, 5, 28, 28)
    with torch.no_grad():
        answer = model(views)
        each = torch.stack([model(view).softmax(dim=-1) for view in views])
    assert answer.shape == (5, 10)
    torch.testing.assert_close(answer.softmax(dim=-1), each.mean(dim=0))
    torch.testing.assert_close(answer.exp().sum(dim=-1), torch.ones(5))  # log-probabilities


def test_predict_step_gives_class_and_probabilities():
    model = LSTMClassifier(input_size=28).eval()
    out = model.predict_step((torch.rand(6, 28, 28), torch.zeros(6, dtype=torch.long)), 0)
    assert out["pred"].shape == (6,)
    assert out["probs"].shape == (6, 10)
    torch.testing.assert_close(out["probs"].sum(-1), torch.ones(6))


@pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason="torch built without oneDNN")
def test_cpu_training_takes_the_onednn_lstm_path():
    from torch.profiler import ProfilerActivity, profile

    model = LSTMClassifier()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model(torch.rand(4, 28, 28)).sum().backward()
    names = {event.key for event in prof.key_averages()}
    assert {"aten::mkldnn_rnn_layer", "aten::mkldnn_rnn_layer_backward"} <= names


def test_zero_padding_never_trains_the_weights_that_read_it():
    # Why padding does not hurt: zero inputs give zero gradients to the input weights that read
    # them, so those weights keep their initial values and add nothing to any output.
    torch.manual_seed(0)
    model = LSTMClassifier(input_size=42)
    padded_columns = model.lstm.weight_ih_l0[:, 28:].detach().clone()
    optimizer = model.configure_optimizers()
    sequences, labels = torch.rand(16, 28, 42), torch.arange(16) % 10
    sequences[..., 28:] = 0
    for _ in range(3):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(sequences), labels).backward()
        assert torch.count_nonzero(model.lstm.weight_ih_l0.grad[:, 28:]) == 0
        assert torch.count_nonzero(model.lstm.weight_ih_l0.grad[:, :28]) > 0
        optimizer.step()
    assert torch.equal(model.lstm.weight_ih_l0[:, 28:], padded_columns)


def test_keras_init_orthogonal_recurrence_and_forget_bias_one():
    torch.manual_seed(0)
    model = LSTMClassifier(hidden_size=16, num_layers=2, init="keras")
    for layer in range(2):
        recurrent = getattr(model.lstm, f"weight_hh_l{layer}")  # (4 x 16, 16): one matrix
        torch.testing.assert_close(recurrent.T @ recurrent, torch.eye(16), atol=1e-5, rtol=0)
        bias = getattr(model.lstm, f"bias_ih_l{layer}")
        assert bias[16:32].eq(1).all()
        assert bias[:16].eq(0).all()
        assert bias[32:].eq(0).all()
        assert getattr(model.lstm, f"bias_hh_l{layer}").eq(0).all()
    assert model.head.bias.eq(0).all()
    same_size = LSTMClassifier(hidden_size=16, num_layers=2)
    assert sum(p.numel() for p in model.parameters()) == sum(
        p.numel() for p in same_size.parameters()
    )


def test_accuracy_is_the_fraction_right_not_the_mean_per_class_recall():
    model = LSTMClassifier()
    logits = torch.zeros(4, 10)
    logits[:, 0] = 1.0  # predicts 0 for all: three of the four are right
    labels = torch.tensor([0, 0, 0, 1])
    for metric in (model.train_acc, model.val_acc, model.test_acc):
        metric.update(logits, labels)
        # "macro" would give the mean of class 0's recall (1) and class 1's (0): 0.5
        assert metric.compute().item() == pytest.approx(0.75)


def test_train_accuracy_counts_every_step_of_the_epoch(tiny_data_dir, tmp_path):
    # The accuracy update is batched to the logging steps; the steps after the last of them must
    # still count. With lr 0 the weights stay fixed, so the epoch's train/acc must equal the
    # model's accuracy on the whole training split.
    import lightning as L

    from lstm_mnist.core.data import MNISTDataModule

    data = MNISTDataModule(data_dir=str(tiny_data_dir), download=False, batch_size=16, val_size=20)
    model = LSTMClassifier(hidden_size=8, num_layers=1)
    model.configure_optimizers = lambda: torch.optim.SGD(model.parameters(), lr=0.0)
    trainer = L.Trainer(
        max_epochs=1,
        log_every_n_steps=4,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    trainer.fit(model, datamodule=data)
    steps = trainer.global_step
    assert steps % 4 != 0, "the split should leave steps after the last logging step"
    images, labels = data.train_set.images, data.train_set.labels
    with torch.no_grad():
        expected = (model(data.to_sequences(images)).argmax(-1) == labels).float().mean()
    assert trainer.callback_metrics["train/acc"] == pytest.approx(expected.item(), abs=1e-6)


def test_the_mean_readout_reads_every_step_and_its_running_guess_ends_at_the_answer():
    torch.manual_seed(0)
    model = LSTMClassifier(readout="mean").eval()
    sequences = torch.rand(4, 28, 28)
    outputs, _ = model.lstm(sequences)
    expected = model.head(outputs.mean(dim=1))
    assert torch.allclose(model(sequences), expected, atol=1e-6)
    running = model.running_probabilities(sequences)
    assert torch.allclose(running[:, -1], expected.softmax(-1), atol=1e-6)
    assert torch.allclose(running[:, 0], model.head(outputs[:, 0]).softmax(-1), atol=1e-6)
    # the parameters are the same as the last-step readout's: the budget is unchanged
    assert sum(p.numel() for p in model.parameters()) == 25_162


def test_label_smoothing_softens_the_training_loss_only():
    torch.manual_seed(0)
    smooth = LSTMClassifier(label_smoothing=0.1)
    batch = (torch.rand(8, 28, 28), torch.arange(8) % 10)
    logits, labels, loss = smooth._logits_and_loss(batch, smooth.hparams.label_smoothing)
    plain = torch.nn.functional.cross_entropy(logits, labels)
    smoothed = torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.1)
    assert torch.isclose(loss, smoothed)
    assert not torch.isclose(loss, plain)
    assert torch.isclose(smooth._logits_and_loss(batch)[2], plain)  # what val/test log


def test_chrono_init_spreads_the_forget_biases_over_the_sequence():
    torch.manual_seed(0)
    lstm = LSTMClassifier(input_size=1, hidden_size=64, num_layers=2, init="chrono", seq_len=784)
    hidden = 64
    for layer in range(2):
        bias = getattr(lstm.lstm, f"bias_ih_l{layer}")
        forget = bias[hidden : 2 * hidden]
        assert forget.min() >= 0
        assert forget.max() <= math.log(783)
        assert forget.max() > math.log(100)  # some units remember for hundreds of steps
        assert torch.equal(bias[:hidden], -forget)
        assert not getattr(lstm.lstm, f"bias_hh_l{layer}").any()
    assert lstm.example_input_array.shape == (1, 784, 1)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_the_running_guess_is_the_answer_to_each_prefix(bidirectional):
    torch.manual_seed(0)
    model = LSTMClassifier(bidirectional=bidirectional, hidden_size=24, num_layers=2).eval()
    sequences = torch.rand(3, 28, 28)
    running = model.running_probabilities(sequences)
    for t in (1, 9, 28):
        prefix = model(sequences[:, :t]).softmax(-1)
        assert torch.allclose(running[:, t - 1], prefix, atol=1e-6)


def test_bidirectional_head_reads_both_directions_whole_reading():
    torch.manual_seed(0)
    model = LSTMClassifier(bidirectional=True, hidden_size=24, num_layers=2, init="keras").eval()
    assert count_parameters(model) == 25_066  # within the seed's budget of 26,570
    sequences = torch.rand(3, 28, 28)
    outputs, (hidden, _) = model.lstm(sequences)
    # the last layer's final states: forward after the last row, backward after the first
    assert torch.allclose(model(sequences), model.head(torch.cat([hidden[-2], hidden[-1]], 1)))
    assert model.lstm.bias_ih_l1_reverse[24:48].eq(1).all()  # Keras' forget bias, both ways


def test_the_hierarchical_reader_summarises_each_row_pixel_by_pixel_for_the_stack():
    torch.manual_seed(0)
    model = LSTMClassifier(hidden_size=38, num_layers=2, row_hidden_size=16, init="keras").eval()
    assert count_parameters(model) == 26_230  # within the seed's budget of 26,570
    assert model.lstm.input_size == 28 + 16  # the row itself beside its summary
    sequences = torch.rand(3, 28, 28)
    # The summary of row 5 is the row reader's last state after that row's 28 pixels.
    _, (summary, _) = model.row_reader(sequences[:, 5].unsqueeze(-1))
    stack_input = torch.cat([sequences[:, 5], summary[-1]], dim=-1)
    expected_first_step = model.lstm(stack_input.unsqueeze(1))[0][:, 0]
    assert torch.allclose(model._read(sequences[:, 5:6])[:, 0], expected_first_step, atol=1e-6)
    # Every row reader weight gets a gradient: the stack's answer depends on it.
    F.cross_entropy(model(sequences), torch.tensor([1, 2, 3])).backward()
    assert all(p.grad.abs().sum() > 0 for p in model.row_reader.parameters())
