"""Stacked LSTMs that read MNIST digits as sequences, as a PyTorch Lightning project."""

from lstm_mnist.data import MNISTDataModule
from lstm_mnist.model import LSTMClassifier

__all__ = ["LSTMClassifier", "MNISTDataModule"]
