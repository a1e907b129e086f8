"""The LSTM's running guess: what it would answer had the image ended after each time step.

``explain``, the test report and the demo page all draw this. The head was trained on the last
step's state only, so the early readouts are what the head makes of a half-read digit, not
beliefs the model was taught to hold: a blank row's answer is a prior, not recognition.
"""

from dataclasses import dataclass
from pathlib import Path

import torch

from lstm_mnist.runs.run import Run

CAPTION = (
    "The head was trained on the last step only: earlier rows show what it would answer had the "
    "image ended there, not calibrated beliefs (a blank row's guess is a prior)."
)


@dataclass(frozen=True)
class Reading:
    """One model's reading of one digit.

    Attributes:
        probs: Class probabilities after each time step, (steps, classes), on the CPU.
        steps_are_rows: Whether step t is row t of the image (``scan: rows``, no crop), so
            that the reading can share the image's vertical axis.
        name: The model that read it, as the figures and the page label it.
    """

    probs: torch.Tensor
    steps_are_rows: bool = True
    name: str = ""

    @property
    def answer(self) -> int:
        """The class the model answers after the last step."""
        return int(self.probs[-1].argmax())

    @property
    def settled(self) -> int:
        """The first step from which the running guess is the final answer and stays it."""
        changed = torch.nonzero(self.probs.argmax(dim=-1) != self.answer).flatten()
        return int(changed[-1]) + 1 if len(changed) else 0

    def top(self, k: int = 3, step: int = -1) -> dict[str, float]:
        """The k likeliest classes after ``step`` (default: the last), as {"7": 0.98, ...}."""
        probs, classes = self.probs[step].topk(k)
        return {str(c): float(p) for c, p in zip(classes.tolist(), probs.tolist(), strict=True)}


@torch.inference_mode()
def read_digits(model, data, digits: torch.Tensor, name: str = "") -> list[Reading]:
    """uint8 digits (N, 28, 28) -> one Reading each, through the data module's own sequences."""
    running = model.running_probabilities(data.to_sequences(digits.to(model.device)))
    rows = data.scan == "rows" and not data.crop
    return [Reading(probs, rows, name) for probs in running.cpu()]


def checkpoint_name(ckpt_path: str) -> str:
    """``version_3/epoch07-val_acc0.9890`` for a run's checkpoint, else the file's stem."""
    run = Run.of_checkpoint(ckpt_path)
    return f"{run.folder.name}/{Path(ckpt_path).stem}" if run else Path(ckpt_path).stem


def blank_rows(digit: torch.Tensor) -> list[int]:
    """The rows of a (28, 28) digit with no ink at all."""
    return torch.nonzero(digit.amax(dim=1) == 0).flatten().tolist()
