"""A few checks on the real MNIST files in ../shared/datasets (skipped where they are absent)."""

import lightning as L
import torch

from lstm_mnist.core.data import MNISTDataModule
from lstm_mnist.core.model import LSTMClassifier

# From ../shared/datasets/README.md: the official test set's class counts.
TEST_CLASS_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_real_files_load_with_the_official_sizes(real_data_dir):
    dm = MNISTDataModule(data_dir=str(real_data_dir), download=False)
    dm.prepare_data()
    dm.setup()
    assert (len(dm.train_set), len(dm.val_set), len(dm.test_set)) == (55_000, 5_000, 10_000)
    assert torch.bincount(dm.test_set.labels).tolist() == TEST_CLASS_COUNTS


def test_one_epoch_on_real_mnist_is_far_above_chance(real_data_dir, tmp_path):
    L.seed_everything(0)
    dm = MNISTDataModule(data_dir=str(real_data_dir), download=False)
    trainer = L.Trainer(
        max_epochs=1,
        limit_val_batches=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
    )
    model = LSTMClassifier(input_size=dm.input_size)
    trainer.fit(model, datamodule=dm)
    (result,) = trainer.test(model, datamodule=dm, verbose=False)
    assert result["test/acc"] > 0.6  # chance is 0.1; one epoch of the seed recipe gives ~0.8
