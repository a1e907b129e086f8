"""A trained run back from its checkpoint: the model and the data module it was trained with."""

import inspect
from pathlib import Path

import torch

from lstm_mnist.data import MNISTDataModule
from lstm_mnist.errors import LstmMnistError
from lstm_mnist.model import LSTMClassifier


def load_run(ckpt_path: str, data_dir: str | None = None) -> tuple[LSTMClassifier, MNISTDataModule]:
    """The model (eval mode, CPU) and a data module with the checkpoint's data settings."""
    if not Path(ckpt_path).is_file():
        raise LstmMnistError(f"checkpoint {ckpt_path} not found: pass the path a fit printed")
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    saved = checkpoint.get("datamodule_hyper_parameters", {})
    settings = constructor_args(MNISTDataModule, saved)
    settings.pop("predict_files", None)  # the training run's, not this one's
    if data_dir is not None:
        settings["data_dir"] = data_dir
    model = LSTMClassifier.load_from_checkpoint(ckpt_path, map_location="cpu").eval()
    return model, MNISTDataModule(**settings)


def constructor_args(cls: type, saved: dict) -> dict:
    """The saved hyperparameters that ``cls`` takes (LightningCLI adds its own, e.g.
    ``_instantiator``)."""
    accepted = inspect.signature(cls).parameters
    return {key: value for key, value in saved.items() if key in accepted}
