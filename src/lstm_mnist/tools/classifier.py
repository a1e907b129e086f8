"""A trained model from Python: anyone's digit images in, classes and probabilities out.

    from lstm_mnist import Classifier

    classifier = Classifier.pretrained()  # or .from_checkpoint("<run>/checkpoints/x.ckpt")
    result = classifier.predict(["seven.png", pil_image, numpy_array, torch_tensor])
    print(result.classes, result.probabilities.max(dim=1).values)
    print(classifier.read("seven.png").settled)  # the row from which it answers what it answers

Each image is prepared the way MNIST's digits were made (core/images.py: the paper taken away,
cropped to the ink, scaled into 20x20, centred by mass) and then read through the checkpoint's
own preprocessing (its data module: crop, padding, standardising, test-time shifts), so any
checkpoint a fit wrote, padded or cropped, just works.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from lstm_mnist.core.images import array_digit, image_digit, load_digit
from lstm_mnist.runs.checkpoint import PRETRAINED, CheckpointError, load_run
from lstm_mnist.runs.run import checkpoint_named
from lstm_mnist.tools.inside import Inside, look_inside
from lstm_mnist.tools.reading import Reading, checkpoint_name, read_digits

ImageLike = str | Path | Image.Image | np.ndarray | torch.Tensor


@dataclass(frozen=True)
class Predictions:
    """The answers for a batch of images.

    Attributes:
        classes: The class of each image, (N,).
        probabilities: Each class's probability, (N, classes).
        names: Each answer's name ("7"; for Fashion-MNIST, "Sneaker").
        digits: The 28x28 digits the model read, (N, 28, 28) uint8.
    """

    classes: torch.Tensor
    probabilities: torch.Tensor
    names: list[str]
    digits: torch.Tensor


class Classifier:
    """A trained model and its run's preprocessing, on the CPU, in eval mode."""

    def __init__(self, ckpt_path: str | Path, name: str | None = None) -> None:
        """Load a checkpoint that ``fit`` wrote (its model and data settings).

        Args:
            ckpt_path: The checkpoint's path, or ``last`` or ``best``: the newest run's under
                the current folder.
            name: How the model is labelled (the demo, the figures); by default its run folder
                and file name.
        """
        path = checkpoint_named(str(ckpt_path), Path.cwd())
        self.model, self.data = load_run(path)
        self.path, self.name = Path(path), name or checkpoint_name(path)

    @classmethod
    def from_checkpoint(cls, ckpt_path: str | Path, name: str | None = None) -> "Classifier":
        """The model a checkpoint holds (see the constructor)."""
        return cls(ckpt_path, name)

    @classmethod
    def pretrained(cls) -> "Classifier":
        """The model that ships inside the package: how it was made is beside it (robust.md)."""
        if not PRETRAINED.is_file():
            raise CheckpointError(
                f"the packaged model {PRETRAINED} is missing: reinstall lstm-mnist"
            )
        return cls(PRETRAINED, "pretrained (configs/robust.yaml)")

    def digits(self, images: ImageLike | list[ImageLike]) -> torch.Tensor:
        """Images -> the 28x28 uint8 digits the model reads, (N, 28, 28).

        A file's path, a PIL image, or an array or tensor of either polarity and any scale: grey
        (H, W) or colour (H, W, 3 or 4; a tensor also 3 or 4 x H x W); a 3-D array or tensor
        that is not colour (N, H, W) is a batch of grey ones; or a list of any of these.
        """
        if isinstance(images, np.ndarray | torch.Tensor) and images.ndim == 3:
            images = [images] if images.shape[-1] in (3, 4) else list(images)  # colour: one
        if not isinstance(images, list | tuple):
            images = [images]
        return torch.stack([_digit(image) for image in images])

    @torch.inference_mode()
    def predict(self, images: ImageLike | list[ImageLike]) -> Predictions:
        """Each image's class and class probabilities."""
        digits = self.digits(images)
        shifts = self.data.test_time_shifts  # read as its fit's test read them
        sequences = self.data.to_sequences(digits, test_time_shifts=shifts)
        probabilities = self.model(sequences).softmax(dim=-1)
        classes = probabilities.argmax(dim=-1)
        names = [self.data.class_names[c] for c in classes.tolist()]
        return Predictions(classes, probabilities, names, digits)

    def read(self, image: ImageLike) -> Reading:
        """One image's running guess: what the model would answer after each row (step)."""
        return self.read_digits(self.digits(image))[0]

    def read_digits(self, digits: torch.Tensor) -> list[Reading]:
        """Prepared uint8 digits (N, 28, 28) -> one Reading each."""
        return read_digits(self.model, self.data, digits, self.name)

    def inside(self, digits: torch.Tensor, layer: int = -1) -> list[Inside]:
        """Prepared uint8 digits (N, 28, 28) -> the gates and memory of a layer (docs/lstm.md)."""
        return look_inside(self.model, self.data, digits, layer)


def _digit(image: ImageLike) -> torch.Tensor:
    if isinstance(image, str | Path):
        return load_digit(image)
    if isinstance(image, Image.Image):
        return image_digit(image)
    if isinstance(image, torch.Tensor):
        if image.ndim == 3 and image.shape[0] in (3, 4):  # torch's channels first
            image = image.permute(1, 2, 0)
        image = image.detach().cpu().numpy()
    return array_digit(image)
