"""The TensorBoard report a test writes: figures, the hparams row, the learning rate, the graph."""

import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

from lstm_mnist.core.augment import shifted_views
from lstm_mnist.core.data import MNISTDataModule
from lstm_mnist.core.model import LSTMClassifier
from lstm_mnist.tools.figures import misclassified_figure
from lstm_mnist.tools.report import probabilities, run_settings_table


def test_tensorboard_opens_on_the_runs_curves_and_report(fitted_run):
    events = EventAccumulator(str(fitted_run[0]), size_guidance={"images": 0}).Reload()
    tags = events.Tags()
    figures = {"test/confusion_matrix", "test/misclassified", "test/reading"}
    assert figures | {"test/memory", "test/gates", "test/decides"} <= set(tags["images"])
    # one learning-rate chart whatever the optimizer; no single-dot epoch or hp/* charts (and no
    # train/loss: the tiny fit's 2 steps are fewer than log_every_n_steps)
    assert set(tags["scalars"]) == {
        "train/acc", "train/lr", "val/loss", "val/acc", "test/loss", "test/acc"
    }  # fmt: skip
    assert tags["graph"]


def test_the_hparams_row_holds_what_makes_runs_differ(fitted_run):
    events = EventAccumulator(str(fitted_run[0])).Reload()
    content = events.PluginTagToContent("hparams")
    session = HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    row = {key: value.WhichOneof("kind") and getattr(value, value.WhichOneof("kind"))
           for key, value in session.session_start_info.hparams.items()}  # fmt: skip
    assert row["fit/optimizer"] == "RMSprop"
    assert row["fit/lr"] == 0.001
    assert row["fit/lr_scheduler"] == "ReduceLROnPlateau"
    assert row["fit/max_epochs"] == 1
    assert row["fit/seed"] == 42
    assert row["model/hidden_size"] == 32
    assert row["model/parameters"] == 25162
    assert row["data/max_rotation"] == 0
    assert not {"_instantiator", "data_dir", "predict_files"} & {k.split("/")[-1] for k in row}
    experiment = HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    metrics = {info.name.tag for info in experiment.metric_infos}
    assert metrics == {"test/acc", "test/loss", "val/acc"}  # the run's own curves


def test_a_test_of_a_checkpoint_rows_its_fits_augmentation_and_its_own_shifts(tmp_path):
    # Its data module holds the checkpoint's input settings only; the fit's config.yaml the rest.
    fit = {"data": {"max_shift": 2.0, "max_rotation": 10.0, "batch_size": 256, "scan": "rows"}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(fit))
    data = MNISTDataModule(test_time_shifts=8)  # augmentation at its defaults, 0
    row = run_settings_table(str(tmp_path), LSTMClassifier(), data)
    assert (row["data/max_shift"], row["data/max_rotation"], row["data/batch_size"]) == (2, 10, 256)
    assert row["data/test_time_shifts"] == 8
    assert row["data/elastic_alpha"] == 0  # not in that config: the data module's


def test_misclassified_digits_come_most_confident_first_with_their_index():
    images = torch.zeros(4, 28, 28, dtype=torch.uint8)
    labels = torch.tensor([0, 1, 2, 3])
    probs = torch.tensor([
        [0.9, 0.1, 0.0, 0.0],  # right
        [0.6, 0.4, 0.0, 0.0],  # wrong, p=0.6
        [0.0, 0.0, 0.1, 0.9],  # wrong, p=0.9
        [0.0, 0.0, 0.0, 1.0],  # right
    ])  # fmt: skip
    figure = misclassified_figure(images, labels, probs)
    titles = [axes.get_title() for axes in figure.axes if axes.get_title()]
    assert titles == ["#2\n2 -> 3 (p=0.90)", "#1\n1 -> 0 (p=0.60)"]
    assert "the 2 most confident of 2" in figure.texts[0].get_text()


def test_the_report_reads_the_test_digits_as_the_test_did_with_its_shifts():
    # Its confusion matrix and misclassified digits then agree with test/acc.
    torch.manual_seed(0)
    model, data = LSTMClassifier(hidden_size=8).eval(), MNISTDataModule(test_time_shifts=8)
    images = torch.randint(0, 256, (6, 28, 28), dtype=torch.uint8)
    with torch.no_grad():
        shifted = probabilities(model, data, images, data.test_time_shifts)
        each = [probabilities(model, data, view) for view in shifted_views(images, 8)]
    torch.testing.assert_close(shifted, torch.stack(each).mean(dim=0))
