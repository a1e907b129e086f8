"""``python -m lstm_mnist.experiments``: the same runner as ``lstm-mnist experiments``."""

from jsonargparse import auto_cli

from lstm_mnist.experiments.runner import run_grid

if __name__ == "__main__":
    auto_cli(run_grid, prog="python -m lstm_mnist.experiments")
