"""``lstm-mnist export``: the trained model as ONNX, taking raw 28x28 images.

The exported graph includes the data module's preprocessing (scaling, standardisation, scan
order, padding), so a user feeds it images with pixel values 0-255 and gets class logits.
"""

from typing import Literal

import torch
from torch import nn

from lstm_mnist.checkpoint import load_run
from lstm_mnist.data import MNISTDataModule
from lstm_mnist.errors import LstmMnistError
from lstm_mnist.sequence import images_to_sequences


class ImageClassifier(nn.Module):
    """Images (batch, 28, 28), pixel values 0-255 -> class logits (batch, 10)."""

    def __init__(self, model: nn.Module, data: MNISTDataModule) -> None:
        super().__init__()
        self.model = model
        self.scan, self.pad_width = data.scan, data.pad_width
        self.normalization = data.normalization
        self.permutation, self.mean_std = data.permutation, data.mean_std

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        seq = images_to_sequences(
            images, self.scan, self.pad_width, self.normalization, self.permutation, self.mean_std
        )
        return self.model(seq)


def image_classifier(ckpt_path: str) -> ImageClassifier:
    model, data = load_run(ckpt_path)
    return ImageClassifier(model, data)


def export(*, ckpt_path: str, out: str = "model.onnx", format: Literal["onnx"] = "onnx") -> None:
    """Write the model, preprocessing included, with a dynamic batch axis.

    Args:
        ckpt_path: A checkpoint written by ``fit``.
        out: The file to write.
        format: ``onnx`` (input ``images``: float32 (batch, 28, 28) in 0-255; output ``logits``).
    """
    try:
        import onnxscript  # noqa: F401  (torch's ONNX exporter needs it)
    except ImportError:
        raise LstmMnistError("ONNX export needs: pip install 'lstm-mnist[export]'") from None
    classifier = image_classifier(ckpt_path).eval()
    example = torch.rand(2, 28, 28) * 255
    batch = torch.export.Dim("batch", min=1)
    torch.onnx.export(
        classifier,
        (example,),
        out,
        input_names=["images"],
        output_names=["logits"],
        dynamic_shapes={"images": {0: batch}},
        dynamo=True,
        verbose=False,
    )
    print(f"wrote {out}")
