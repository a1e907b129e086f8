"""``lstm-mnist export``: a trained model as one file, as ONNX or as a checkpoint that travels.

The ONNX graph includes the data module's preprocessing (scaling, standardisation, scan order,
padding), so a user feeds it images with pixel values 0-255 and gets class logits. A ``ckpt``
holds the weights and settings alone (no optimizer state, no path of the machine that made it):
what ships inside the package as its pretrained model.
"""

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import torch
from torch import nn

from lstm_mnist.core.errors import LstmMnistError, OptionError
from lstm_mnist.runs.checkpoint import read_checkpoint, slim
from lstm_mnist.runs.run import checkpoint_or_pretrained, load_trained, writable_file


def image_classifier(ckpt_path: str | None) -> nn.Sequential:
    """Images (batch, 28, 28) in 0-255 -> class logits, as in the exported graph.

    The checkpoint's model behind its run's own preprocessing.

    Args:
        ckpt_path: A checkpoint written by ``fit`` (or ``last``, ``best``; None: the packaged one).
    """
    model, data = load_trained(ckpt_path)
    return nn.Sequential(data.transform, model).eval()


def export(
    *,
    ckpt_path: str | None = None,
    out: str = "model.onnx",
    format: Literal["onnx", "ckpt"] = "onnx",
) -> None:
    """Write the model as one file.

    Args:
        ckpt_path: A checkpoint written by ``fit``, or ``last`` or ``best``; by default the model
            that ships inside the package.
        out: The file to write (its folder is created); the weights are inside it.
        format: ``onnx``: preprocessing included, a dynamic batch axis (input ``images``: float32
            (batch, 28, 28) in 0-255; output ``logits``). ``ckpt``: the checkpoint's weights and
            settings alone (tens of KB), which loads as any checkpoint does.
    """
    suffix = f".{format}"
    destination = writable_file(Path(out), f"model{suffix}")  # before the work, which takes seconds
    if destination.suffix.lower() != suffix:
        kind = "an ONNX model's" if format == "onnx" else "a checkpoint's"
        raise OptionError(f"--out={out!r}: {kind} file ends in {suffix}, e.g. model{suffix}")
    if format == "ckpt":
        checkpoint = slim(read_checkpoint(checkpoint_or_pretrained(ckpt_path, Path.cwd())))
        _write(destination, lambda path: torch.save(checkpoint, path))
    else:
        try:
            import onnxscript  # noqa: F401  (torch's ONNX exporter needs it)
        except ImportError:
            raise LstmMnistError("ONNX export needs: pip install 'lstm-mnist[export]'") from None
        program = onnx_program(image_classifier(ckpt_path).eval())
        # ~100 KB of weights: inside the file, so that the file alone is the model (saved as
        # external data, ONNX Runtime refuses a model.onnx copied without its model.onnx.data)
        _write(destination, lambda path: program.save(path, external_data=False))
    print(f"wrote {out}")


def _write(destination: Path, save) -> None:
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        save(destination)
    except OSError as err:
        raise LstmMnistError(f"cannot write {destination}: {err.strerror or err}") from None


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
