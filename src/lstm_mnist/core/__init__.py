"""The lesson: a 28x28 image read as a sequence by stacked LSTMs.

Reading order, top to bottom: ``sequence`` (an image becomes a sequence, in one place), ``data``
(MNIST as uint8 tensors, batches turned into sequences), ``augment`` (training digits moved and
bent), ``model`` (the LSTM stack, its head, one accuracy per stage). ``idx`` reads MNIST's files,
``images`` prepares a person's image the way MNIST's digits were made, ``errors`` are what a user
can fix. Nothing here imports the command line, run folders or the tools: it is plain PyTorch
Lightning, usable from Python alone.
"""

from lstm_mnist.core.data import MNISTDataModule
from lstm_mnist.core.model import LSTMClassifier
from lstm_mnist.core.sequence import ImageToSequence

__all__ = ["ImageToSequence", "LSTMClassifier", "MNISTDataModule"]
