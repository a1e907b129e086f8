"""The TensorBoard report a test writes: figures, hparams, the learning rate, the graph."""

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def test_tensorboard_shows_report_hparams_learning_rate_and_graph(fitted_run):
    events = EventAccumulator(str(fitted_run[0]), size_guidance={"images": 0}).Reload()
    tags = events.Tags()
    assert {"test/confusion_matrix", "test/misclassified", "test/reading"} <= set(tags["images"])
    assert {"hp/test_acc", "hp/best_val_acc", "lr-RMSprop"} <= set(tags["scalars"])
    assert tags["graph"]
    assert "_hparams_/experiment" in events.PluginTagToContent("hparams")
