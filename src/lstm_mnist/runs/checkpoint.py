"""A trained run back from its checkpoint: read safely, with the settings it was trained with.

A checkpoint that ``fit`` wrote holds the model's and the data module's constructor arguments, so
``test``, ``validate``, ``predict``, ``explain`` and ``export`` rebuild exactly the model that was
trained from the file alone, whatever config the user names beside it.
"""

import inspect
import zipfile
from importlib.resources import files
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from typing_extensions import override

from lstm_mnist.core.data import MNISTDataModule
from lstm_mnist.core.errors import LstmMnistError
from lstm_mnist.core.model import LSTMClassifier

# What the model sees and how it is built; the rest of the data settings (where the files are,
# the batch size, the images to predict, augmentation) belong to the run that reads the files.
# val_size and split_seed are here so that `validate` scores the images the fit held out.
INPUT_SETTINGS = ("dataset", "normalization", "pad_width", "scan", "permutation_seed", "crop")
DATA_SETTINGS = (*INPUT_SETTINGS, "val_size", "split_seed")
LINKED = ("input_size", "num_classes", "seq_len")  # the model's, linked from the data module


# The model that ships inside the package (configs/robust.yaml's recipe), and how it was made.
PRETRAINED = Path(str(files("lstm_mnist") / "pretrained" / "robust.ckpt"))


class CheckpointError(LstmMnistError):
    """A checkpoint is missing, unreadable, or does not fit the model asked for."""


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint's contents (on the CPU), or one CheckpointError that names the file."""
    path = Path(path)
    hint = "pass a .ckpt that lstm-mnist fit wrote (fit prints the best one's path)"
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist: {hint}")
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a folder: {hint}, e.g. from its checkpoints/")
    if path.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {path} is empty (0 bytes): {hint}")
    if not zipfile.is_zipfile(path):  # what torch.save writes; a cut one lacks its directory
        raise CheckpointError(f"checkpoint {path} is truncated or not a checkpoint: {hint}")
    try:  # weights only: a checkpoint is data, and loading it must not run code
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises a different error for each way a file can be broken
        reason = str(err).splitlines()[0][:100] if str(err) else type(err).__name__
        raise CheckpointError(f"checkpoint {path} cannot be read ({reason}): {hint}") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"checkpoint {path} holds no model weights: {hint}")
    if "hyper_parameters" not in checkpoint:
        raise CheckpointError(f"checkpoint {path} holds no model settings: {hint}")
    return checkpoint


def trained_settings(checkpoint: dict) -> dict[str, dict]:
    """The constructor arguments the checkpoint's run trained with.

    As {"model": ..., "data": ...}, the model's linked ones and the data's run-local ones left out.
    """
    model = constructor_args(LSTMClassifier, checkpoint["hyper_parameters"])
    data = constructor_args(MNISTDataModule, checkpoint.get("datamodule_hyper_parameters", {}))
    return {
        "model": {key: value for key, value in model.items() if key not in LINKED},
        "data": {key: value for key, value in data.items() if key in DATA_SETTINGS},
    }


def load_run(
    ckpt_path: str | Path, data_dir: str | None = None
) -> tuple[LSTMClassifier, MNISTDataModule]:
    """The model (eval mode, CPU) and a data module with the checkpoint's data settings."""
    return rebuild(read_checkpoint(ckpt_path), ckpt_path, data_dir)


def rebuild(
    checkpoint: dict, ckpt_path: str | Path, data_dir: str | None = None
) -> tuple[LSTMClassifier, MNISTDataModule]:
    """The model a read checkpoint holds (eval mode, CPU), and a data module of its settings.

    Raises:
        CheckpointError: Its weights do not fit the model its settings describe (a checkpoint of
            another model); the message names the file.
    """
    saved = constructor_args(MNISTDataModule, checkpoint.get("datamodule_hyper_parameters", {}))
    saved.pop("predict_files", None)  # the training run's, not this one's
    if data_dir is not None:
        saved["data_dir"] = data_dir
    data = MNISTDataModule(**saved)
    model_args = constructor_args(LSTMClassifier, checkpoint["hyper_parameters"])
    model = LSTMClassifier(**{**model_args, "input_size": data.input_size, "seq_len": data.seq_len})
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as err:
        raise CheckpointError(
            f"checkpoint {ckpt_path} does not fit the model its settings describe "
            f"({str(err).splitlines()[1].strip()[:160]}): pass one that lstm-mnist fit wrote"
        ) from None
    return model.eval(), data


def constructor_args(cls: type, saved: dict) -> dict:
    """The saved hyperparameters that ``cls`` takes.

    LightningCLI saves its own beside them, e.g. ``_instantiator``.
    """
    accepted = inspect.signature(cls).parameters
    return {key: value for key, value in saved.items() if key in accepted}


class RunCheckpoint(ModelCheckpoint):
    """ModelCheckpoint that keeps its record of a run whose folder was moved or copied.

    Lightning forgets which files it saved (the best ones, last.ckpt) when a resumed fit's folder
    is not spelled as it was: the old best would then stay beside the new one, and last.ckpt
    would be written as last-v1.ckpt, leaving the next ``--ckpt_path last`` a stale file. The
    record is moved to this folder instead; a best file that is not there is forgotten.
    """

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        old = state_dict.get("dirpath")
        if old and self.dirpath and old != self.dirpath:
            state_dict = {**state_dict, "dirpath": self.dirpath}
            for key in ("best_model_path", "kth_best_model_path", "last_model_path"):
                state_dict[key] = _moved(state_dict.get(key), old, self.dirpath)
            best = state_dict.get("best_k_models") or {}
            state_dict["best_k_models"] = {_moved(p, old, self.dirpath): s for p, s in best.items()}
        best_path = state_dict.get("best_model_path")
        if best_path and not Path(best_path).is_file():
            # a checkpoint copied out of its run, or a best file deleted: this run has no best
            # yet (else it would name a file that is not there, and --test_after_fit fail)
            state_dict = {
                **state_dict,
                "best_model_path": "",
                "best_model_score": self.best_model_score,
                "best_k_models": {},
                "kth_best_model_path": "",
                "kth_value": self.kth_value,
            }
        super().load_state_dict(state_dict)


def _moved(path: str | None, old: str, new: str) -> str | None:
    """``path`` under ``old`` as the same file under ``new`` (other paths as they are)."""
    if not path or Path(path).parent != Path(old):
        return path
    return str(Path(new) / Path(path).name)


def slim(checkpoint: dict) -> dict:
    """The checkpoint's weights and settings alone: what a trained model needs to travel.

    No optimizer or callback states, and no path of the machine that made it: the data settings
    name no data folder (the default's, or --data.data_dir, where it is evaluated) and no images.
    """
    data = dict(checkpoint.get("datamodule_hyper_parameters", {}))
    data.pop("data_dir", None)  # the default where it is evaluated, or --data.data_dir
    data.update(predict_files=None)
    kept = ("state_dict", "hyper_parameters", "pytorch-lightning_version", "epoch", "global_step")
    return {
        **{key: checkpoint[key] for key in kept if key in checkpoint},
        "datamodule_hyper_parameters": data,
    }
