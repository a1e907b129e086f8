"""The ``lstm-mnist`` command: LightningCLI over the core, with its checks, logger and signals."""

from lstm_mnist.cli.lightning_cli import LSTMMnistCLI
from lstm_mnist.cli.logger import RunConfig
from lstm_mnist.cli.main import cli_main, run_cli

__all__ = ["LSTMMnistCLI", "RunConfig", "cli_main", "run_cli"]
