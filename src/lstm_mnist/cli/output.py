"""What a command prints: each line says something true and useful to the person running it.

Lightning's progress bar (without ``v_num``, the logger's version, which reads ``0.000``), a model
summary without the FLOPs column (a count of one example's multiply-adds, which Lightning 2.6
measures on the TensorBoard graph's input and nothing here uses), and upstream messages filtered by
their exact text, each with whose it is and why: any other warning still shows.
"""

import logging
import warnings
from importlib.util import find_spec

from lightning.pytorch.callbacks import ModelSummary, RichProgressBar, TQDMProgressBar
from lightning.pytorch.callbacks.progress.progress_bar import ProgressBar
from lightning.pytorch.utilities import rank_zero_info
from lightning.pytorch.utilities.model_summary import get_human_readable_count
from typing_extensions import override

# Upstream warnings that tell a user of this CLI nothing they can act on: (text, whose and why).
UPSTREAM_WARNINGS = {
    # Lightning, when a program passes LightningCLI its arguments (the experiments runner, the
    # CLI itself after it drops --print_config) while its own command line has some.
    r"LightningCLI's args parameter is intended": "lightning",
    # Lightning: the model keeps its own configure_optimizers (the seed's RMSprop) so that it also
    # trains outside the CLI; the CLI replacing it with --optimizer is the design.
    r".*configure_optimizers` will be overridden by": "lightning",
    # Lightning traces TensorBoard's model graph with torch.jit, which torch now calls deprecated,
    # and the tracer warns about nn.LSTM's own input checks (the graph is drawn all the same).
    r"`torch\.jit\.trace(_method)?` is deprecated": "torch, through lightning",
    r"Converting a tensor to a Python boolean might cause the trace": "torch, through lightning",
    # Lightning 2.6 calls a torch.utils._pytree API that torch 2.14 deprecates.
    r"`isinstance\(treespec, LeafSpec\)` is deprecated": "lightning on torch 2.14",
    # Loading a checkpoint into test/validate/predict restores ModelCheckpoint's state, and
    # Lightning warns that its old folder differs; nothing is saved in those commands.
    r"The dirpath has changed from": "lightning",
    # A resumed fit writes into its own run's checkpoint folder, which is not empty by design.
    r"Checkpoint directory .* exists and is not empty": "lightning",
}
# Only a resumed fit restores the training callbacks' states (an EMA's average); a checkpoint is
# evaluated without them, and Lightning's advice to add them there would only mislead. A fit that
# resumes without its callbacks is told (so this is filtered in validate, test and predict only).
CALLBACKS_FOR_RESUMING = r"Be aware that when using `ckpt_path`, callbacks used to create"
# Lines Lightning prints for every Trainer that tell a user of this CLI nothing: advertisements for
# its cloud services, and that it leaves out its model summary for the CLI's own (output.Summary).
NOISE = ("💡 Tip:", "Trainer already configured with model summary callbacks")


def quiet_upstream() -> None:
    """Filter the upstream warnings and Lightning's noise above; quiet its seed line.

    The seed is in the run's config.yaml, and an error right after seeding should be the only
    line a user sees.
    """
    for message in UPSTREAM_WARNINGS:
        warnings.filterwarnings("ignore", message=message)
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _WithoutNoise) for f in logger.filters):
            logger.addFilter(_WithoutNoise())
    logging.getLogger("lightning.fabric.utilities.seed").setLevel(logging.WARNING)


class _WithoutNoise(logging.Filter):
    @override
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(NOISE)


class _WithoutVersion:
    """A progress bar without ``v_num``: the run's folder is printed, and its number is noise."""

    def get_metrics(self, trainer, pl_module) -> dict:
        """Lightning's items, but ``v_num`` (the override Lightning's docs suggest for it)."""
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        return items


class TQDMBar(_WithoutVersion, TQDMProgressBar):
    """Lightning's tqdm bar without ``v_num``."""


class RichBar(_WithoutVersion, RichProgressBar):
    """Lightning's rich bar without ``v_num``."""


def progress_bar(refresh_rate: int) -> ProgressBar:
    """Lightning's default bar, redrawn every ``refresh_rate`` steps (its own default, 1, costs).

    Rich's where ``rich`` is installed (e.g. with Gradio), tqdm's otherwise, as Lightning chooses.
    """
    kind = RichBar if find_spec("rich") else TQDMBar
    return kind(refresh_rate=refresh_rate)


class Summary(ModelSummary):
    """Lightning's model summary: name, type, parameters, input and output sizes; no FLOPs."""

    @staticmethod
    @override
    def summarize(summary_data, total_parameters, trainable_parameters, model_size, *args, **kw):
        columns = [(name, values) for name, values in summary_data if name not in ("FLOPs", "Mode")]
        widths = [max([len(name), *map(len, values)]) for name, values in columns]
        rows = [
            [name for name, _ in columns],
            *zip(*(values for _, values in columns), strict=True),
        ]
        lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
        lines.insert(1, "-" * len(lines[0]))
        trainable = get_human_readable_count(trainable_parameters)
        total = get_human_readable_count(total_parameters)
        lines.append(f"{trainable} trainable parameters of {total} ({model_size:.2f} MB)")
        rank_zero_info("\n".join(lines))
