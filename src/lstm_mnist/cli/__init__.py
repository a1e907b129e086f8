"""The ``lstm-mnist`` command: LightningCLI over the core, with its checks, logger and signals."""

from lstm_mnist.cli.main import LSTMMnistCLI, cli_main, run_cli

__all__ = ["LSTMMnistCLI", "cli_main", "run_cli"]
