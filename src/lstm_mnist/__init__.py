"""Stacked LSTMs that read MNIST digits as sequences, as a PyTorch Lightning project."""

from lstm_mnist.core.data import MNISTDataModule
from lstm_mnist.core.model import LSTMClassifier

__all__ = ["LSTMClassifier", "MNISTDataModule"]
