"""The run logger's old path, kept so that runs made before the move still resume and test.

Their config.yaml files (written before 2026-12-07) name ``lstm_mnist.logger.RunLogger``.
"""

from lstm_mnist.cli.logger import RunLogger

__all__ = ["RunLogger"]
