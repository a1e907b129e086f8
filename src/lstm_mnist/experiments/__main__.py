"""``python -m lstm_mnist.experiments``: the same runner as ``lstm-mnist experiments``."""

import sys

from lstm_mnist.cli import cli_main

if __name__ == "__main__":
    cli_main(["experiments", *sys.argv[1:]])
