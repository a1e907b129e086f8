"""What the tests share: tiny data, a drawn digit, the script run as a user runs it.

The tiny IDX datasets are written by the tests themselves.
"""

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from PIL import Image, ImageDraw

from lstm_mnist.cli.main import cli_main
from lstm_mnist.core.idx import RAW_FILES

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIGS = PROJECT_ROOT / "configs"
# Where the real MNIST and Fashion-MNIST IDX files are; CI and this project's machines have them
# beside the checkout. Point the variable elsewhere on another machine.
DATASETS_VARIABLE = "LSTM_MNIST_DATASETS"
SHARED_DATASETS = Path(os.environ.get(DATASETS_VARIABLE) or PROJECT_ROOT.parent / "shared/datasets")
TINY_TRAIN, TINY_TEST = 300, 70
# One thread per process, here and in every process a test starts: the suite runs on two cores
# in two workers (pytest -n 2), and two threads per process on a busy 2-core machine crawl.
os.environ["OMP_NUM_THREADS"] = "1"
torch.set_num_threads(1)
QUIET = ["--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false"]


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (magic 0x0000_08_ndim, big-endian dims, raw bytes)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def write_tiny_mnist(root: Path, folder: str = "MNIST", seed: int = 0) -> Path:
    """Random 28x28 'digits' with labels 0-9, laid out as <root>/<folder>/raw/<IDX files>."""
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    raw.mkdir(parents=True)
    for split, count in (("train", TINY_TRAIN), ("test", TINY_TEST)):
        images_name, labels_name = RAW_FILES[split]
        write_idx(raw / images_name, rng.integers(0, 256, (count, 28, 28), dtype=np.uint8))
        write_idx(raw / labels_name, np.arange(count, dtype=np.uint8) % 10)
    return root


def lstm_mnist(
    *args, cwd: Path, timeout: float = 240, merged: bool = False, **env: str
) -> subprocess.CompletedProcess:
    """Run the installed ``lstm-mnist`` script in a subprocess from ``cwd`` (not the checkout).

    With one torch thread (two threads per process crawl on a busy 2-core machine). ``merged``: its
    stderr goes into stdout, as in a log file.
    """
    script = shutil.which("lstm-mnist")
    assert script, "the lstm-mnist script is not installed: pip install -e '.[dev]'"
    assert PROJECT_ROOT not in [Path(cwd), *Path(cwd).parents], "run it outside the checkout"
    environment = {**os.environ, **env}
    return subprocess.run(
        [script, *map(str, args)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merged else subprocess.PIPE,
        text=True,
        timeout=timeout,
        env=environment,
        stdin=subprocess.DEVNULL,
    )


def in_process(*args, cwd: Path, capsys) -> subprocess.CompletedProcess:
    """What ``lstm_mnist`` does, run in this process: the script's own ``cli_main``, ~7 s sooner.

    For the second and later checks of a door that a test through the script already walks.
    ``capsys``: the test's fixture, which holds what the command printed.
    """
    code = 0
    with contextlib.chdir(cwd):
        try:
            cli_main([str(arg) for arg in args])
        except SystemExit as exit_:
            code = exit_.code
    out, err = capsys.readouterr()
    if isinstance(code, str):  # sys.exit(message) prints the message and exits 1
        err, code = f"{err}{code}\n", 1
    return subprocess.CompletedProcess(list(args), code or 0, out, err)


def assert_one_line_error(result: subprocess.CompletedProcess, *named: str) -> str:
    """Assert the command failed with one ``error:`` line that names each of ``named``.

    No traceback and no usage dump before it; returns that line.
    """
    assert result.returncode != 0, result.stdout[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, result.stderr[-3000:]
    assert lines[-1].startswith("error: "), result.stderr[-3000:]
    assert not any(line.startswith("usage:") for line in lines), result.stderr[-3000:]
    for name in named:
        assert name in lines[-1], (name, lines[-1])
    return lines[-1]


def copy_run(run: Path, root: Path) -> Path:
    """A copy of a run folder as ``<root>/lightning_logs/<its name>``."""
    return Path(shutil.copytree(run, root / "lightning_logs" / run.name))


def files_of(folder: Path) -> dict[Path, bytes]:
    """Every file under ``folder`` and its bytes: to show a command left a run as it was."""
    return {path: path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def best_checkpoint(run: Path) -> Path:
    (best,) = (path for path in (run / "checkpoints").glob("*.ckpt") if path.name != "last.ckpt")
    return best


def draw_seven(size=(300, 200), ink=0, paper=255, mode="RGB") -> Image.Image:
    """A thick dark '7' on light paper, off-centre, in a canvas that is not square."""
    background = {"L": paper, "RGB": (paper,) * 3, "RGBA": (255, 255, 255, 0)}[mode]
    image = Image.new(mode, size, background)
    pen = ImageDraw.Draw(image)
    colour = ink if mode == "L" else (ink, ink, ink) + ((255,) if mode == "RGBA" else ())
    pen.line([(40, 30), (140, 30), (80, 170)], fill=colour, width=18)
    return image


class FailAtFirstStep(Callback):
    """Raises as the first training batch starts: a fit that fails after it has begun."""

    def on_train_batch_start(self, *args) -> None:
        raise RuntimeError("failed at the first step, as a test asks")
