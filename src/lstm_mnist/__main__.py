"""``python -m lstm_mnist``: the same program as the ``lstm-mnist`` script."""

from lstm_mnist.cli.main import cli_main

if __name__ == "__main__":
    cli_main()
