"""``lstm-mnist export``: the trained model as ONNX, taking raw 28x28 images.

The exported graph includes the data module's preprocessing (scaling, standardisation, scan
order, padding), so a user feeds it images with pixel values 0-255 and gets class logits.
"""

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from lstm_mnist.core.errors import LstmMnistError, OptionError
from lstm_mnist.runs.run import load_trained, writable_file


def image_classifier(ckpt_path: str) -> nn.Sequential:
    """Images (batch, 28, 28) in 0-255 -> class logits, as in the exported graph.

    The checkpoint's model behind its run's own preprocessing.

    Args:
        ckpt_path: A checkpoint written by ``fit``.
    """
    model, data = load_trained(ckpt_path)
    return nn.Sequential(data.transform, model).eval()


def export(*, ckpt_path: str, out: str = "model.onnx", format: Literal["onnx"] = "onnx") -> None:
    """Write the model, preprocessing included, with a dynamic batch axis, as one file.

    Args:
        ckpt_path: A checkpoint written by ``fit``.
        out: The file to write (its folder is created); the weights are inside it.
        format: ``onnx`` (input ``images``: float32 (batch, 28, 28) in 0-255; output ``logits``).
    """
    try:
        import onnxscript  # noqa: F401  (torch's ONNX exporter needs it)
    except ImportError:
        raise LstmMnistError("ONNX export needs: pip install 'lstm-mnist[export]'") from None
    destination = writable_file(Path(out), "model.onnx")  # before the export, which takes seconds
    if destination.suffix.lower() != ".onnx":
        raise OptionError(f"--out={out!r}: an ONNX model's file ends in .onnx, e.g. model.onnx")
    classifier = image_classifier(ckpt_path).eval()
    program = onnx_program(classifier)
    try:
        # ~100 KB of weights: inside the file, so that the file alone is the model (saved as
        # external data, ONNX Runtime refuses a model.onnx copied without its model.onnx.data)
        destination.parent.mkdir(parents=True, exist_ok=True)
        program.save(destination, external_data=False)
    except OSError as err:
        raise LstmMnistError(f"cannot write {destination}: {err.strerror or err}") from None
    print(f"wrote {out}")


def onnx_program(classifier: nn.Module) -> torch.onnx.ONNXProgram:
    """The classifier (images in, logits out) as ONNX, its batch axis dynamic."""
    example = torch.rand(2, 28, 28) * 255
    batch = torch.export.Dim("batch", min=1)
    with _quiet_exporter():
        return torch.onnx.export(
            classifier,
            (example,),
            input_names=["images"],
            output_names=["logits"],
            dynamic_shapes=({0: batch},),
            dynamo=True,
            verbose=False,  # no "[torch.onnx] ..." progress lines on stdout
        )


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence the warnings torch's exporter gives about torch's own code, not the user's.

    torch.export traces nn.LSTM through its own patch (torch/export/_patches.py), which calls
    the deprecated ``torch._check_is_size`` (a FutureWarning, once per use in the traced graph)
    and re-assigns the LSTM's ``_flat_weights`` (a UserWarning). Other warnings still show, and
    errors are raised as before.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"_check_is_size will be removed", FutureWarning)
        warnings.filterwarnings(
            "ignore", r"The tensor attributes .*_flat_weights.* assigned during export", UserWarning
        )
        yield
