"""Stacked LSTMs that read MNIST digits as sequences, as a PyTorch Lightning project.

``LSTMClassifier`` and ``MNISTDataModule`` are the lesson (``lstm_mnist.core``); ``Classifier``
reads anyone's digit images with a trained checkpoint, or the pretrained model in the package.
"""

from lstm_mnist.core.data import MNISTDataModule
from lstm_mnist.core.model import LSTMClassifier
from lstm_mnist.tools.classifier import Classifier, Predictions

__all__ = ["Classifier", "LSTMClassifier", "MNISTDataModule", "Predictions"]
