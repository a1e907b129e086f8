"""``lstm-mnist`` and ``python -m lstm_mnist``: one command, errors as one line.

fit, validate, test and predict are LightningCLI's (lightning_cli.py); the other commands are typed
functions that jsonargparse turns into command lines (``auto_cli``), dispatched by name.
"""

import importlib
import json
import sys
from argparse import ArgumentError

from jsonargparse import auto_cli
from lightning.fabric.utilities.exceptions import MisconfigurationException

from lstm_mnist.cli.checks import check_config_files, one_line, where_set
from lstm_mnist.cli.lightning_cli import LSTMMnistCLI
from lstm_mnist.cli.tuning import tune_process
from lstm_mnist.core.data import MNISTDataModule
from lstm_mnist.core.errors import LstmMnistError
from lstm_mnist.core.model import LSTMClassifier

# Commands beside LightningCLI's Trainer subcommands; each is a typed function (auto_cli).
TOOLS = {
    "explain": "lstm_mnist.tools.explain:explain",
    "export": "lstm_mnist.tools.export:export",
    "download": "lstm_mnist.cli.download:download",
    "experiments": "lstm_mnist.experiments.runner:run_grid",
    "demo": "lstm_mnist.tools.demo:demo",
}
# A tool's list options that a user may repeat (--ckpt_path A --ckpt_path B): gathered into one
# list, since jsonargparse would keep the last one only.
REPEATABLE = ("--ckpt_path", "--name")
PROG = "lstm-mnist"
DESCRIPTION = (
    "Stacked LSTMs that read MNIST as sequences. Commands: fit, validate, test, predict "
    "(Lightning's, driven by YAML configs), and 'download' (the dataset, e.g. on a login node), "
    "'explain' (the running guess, row by row, as a PNG), 'demo' (a page to draw a digit and "
    "watch it read), 'export' (ONNX), 'experiments' "
    "(config x seed grids -> results/). "
    "Each has --help, e.g. 'lstm-mnist fit --help'."
)


def run_cli(args: list[str] | None = None) -> LSTMMnistCLI | None:
    """Run one command and return its CLI (None for the tools); errors are raised, not printed."""
    argv = sys.argv[1:] if args is None else args
    tune_process()
    check_config_files(argv)
    parser_kwargs = {"prog": PROG, "exit_on_error": False}
    if argv and argv[0] in TOOLS:
        module, function = TOOLS[argv[0]].split(":")
        command = getattr(importlib.import_module(module), function)
        args = gathered(argv[1:]) if argv[0] == "demo" else argv[1:]
        auto_cli(command, args=args, **{**parser_kwargs, "prog": f"{PROG} {argv[0]}"})
        return None
    return LSTMMnistCLI(
        LSTMClassifier,
        MNISTDataModule,
        # a resumed run writes its config.yaml into the folder it continues
        save_config_kwargs={"overwrite": True},
        parser_kwargs={**parser_kwargs, "description": DESCRIPTION},
        args=args,  # None: sys.argv, without Lightning's warning about both
    )


def gathered(args: list[str]) -> list[str]:
    """``--ckpt_path A --ckpt_path=B`` -> ``--ckpt_path ["A", "B"]`` (for each REPEATABLE)."""
    values: dict[str, list[str]] = {}
    rest, remaining = [], iter(args)
    for arg in remaining:
        option, equals, value = arg.partition("=")
        if option in REPEATABLE:
            values.setdefault(option, []).append(value if equals else next(remaining, ""))
        else:
            rest.append(arg)
    return rest + [item for option, v in values.items() for item in (option, json.dumps(v))]


def cli_main(args: list[str] | None = None) -> None:
    """Entry point of ``python -m lstm_mnist`` and the ``lstm-mnist`` script.

    Exit 0 on success, or one line that says what to fix and exit 1 (2 for a bad command line).
    """
    argv = sys.argv[1:] if args is None else args
    try:
        run_cli(args)
    except ArgumentError as err:
        command = f"{PROG} {argv[0]}" if argv and not argv[0].startswith("-") else PROG
        message = where_set(one_line(str(err)), argv)
        print(f"error: {message} (see '{command} --help')", file=sys.stderr)
        sys.exit(2)
    except (LstmMnistError, MisconfigurationException) as err:
        # the message says what to fix; a traceback would bury it
        message = where_set(one_line(str(err)), argv)
        if "backend found" in message:  # e.g. --trainer.accelerator gpu without a GPU
            message += " Use --trainer.accelerator cpu (or auto) on a machine without one."
        sys.exit(f"error: {message}")
    except KeyboardInterrupt:  # Ctrl-C before or after Lightning's own handling of it
        sys.exit("interrupted")
