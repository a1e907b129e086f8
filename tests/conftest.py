"""Fixtures: tiny data, the real files when present, and one short fit by the script."""

import signal
import subprocess
from pathlib import Path

import pytest

from lstm_mnist.cli.main import run_cli
from tests.helpers import (
    CONFIGS,
    DATASETS_VARIABLE,
    QUIET,
    SHARED_DATASETS,
    lstm_mnist,
    write_tiny_mnist,
)
from tests.slurm_cluster import running_cluster


def pytest_configure(config: pytest.Config) -> None:
    # Ctrl-C as a user's terminal delivers it. A test run started in the background (`pytest &`,
    # some CI shells) inherits SIGINT ignored, and so would every command the tests start: the
    # Ctrl-C tests would then test the harness, not the program.
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    return write_tiny_mnist(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    if not (SHARED_DATASETS / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").is_file():
        pytest.skip(f"real MNIST files not found in {SHARED_DATASETS} (set {DATASETS_VARIABLE})")
    return SHARED_DATASETS


@pytest.fixture(scope="session")
def trained(tiny_data_dir, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """One short fit of the padded config on tiny data by the installed script.

    From a folder of its own, into ``<that folder>/runs``: (its run folder, the finished process).
    """
    workdir = tmp_path_factory.mktemp("trained")
    root = workdir / "runs"
    result = lstm_mnist(
        "fit",
        "--config",
        CONFIGS / "padded.yaml",
        "--data.data_dir",
        tiny_data_dir,
        "--data.val_size",
        "50",
        "--trainer.max_epochs",
        "2",
        "--trainer.default_root_dir",
        root,
        *QUIET,
        cwd=workdir,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return root / "lightning_logs" / "version_0", result


@pytest.fixture(scope="session")
def trained_run(trained) -> Path:
    """The run folder of ``trained`` (checkpoints/last.ckpt and the best one).

    Read it only; a test that changes a run copies it first (``copy_run``).
    """
    return trained[0]


@pytest.fixture(scope="session")
def fitted_run(tiny_data_dir, tmp_path_factory):
    """A one-epoch fit on tiny data, tested after fit: (run folder, best checkpoint)."""
    workdir = tmp_path_factory.mktemp("run")
    args = [
        "fit",
        "--config",
        str(CONFIGS / "default.yaml"),
        "--data.data_dir",
        str(tiny_data_dir),
        "--data.val_size",
        "50",
        "--trainer.max_epochs",
        "1",
        "--test_after_fit",
        "true",
        "--trainer.default_root_dir",
        str(workdir),
        *QUIET,
    ]
    cli = run_cli(args)
    return workdir / "lightning_logs" / "version_0", cli.trainer.checkpoint_callback.best_model_path


@pytest.fixture(scope="session")
def cropped_checkpoint(tiny_data_dir, tmp_path_factory) -> str:
    """The best checkpoint of a one-epoch fit that reads the digits cropped by 2 (24 rows)."""
    workdir = tmp_path_factory.mktemp("cropped")
    args = ["fit", "--config", str(CONFIGS / "default.yaml"), "--data.crop", "2"]
    args += ["--data.data_dir", str(tiny_data_dir), "--data.val_size", "50"]
    args += ["--trainer.max_epochs", "1", "--trainer.default_root_dir", str(workdir), *QUIET]
    return run_cli(args).trainer.checkpoint_callback.best_model_path


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A running one-node SLURM on localhost (tests/slurm_cluster.py): its environment.

    SLURM_CONF in it reaches the cluster. Its tests share the xdist group "slurm".
    """
    with running_cluster(tmp_path_factory.mktemp("slurm")) as env:
        yield env


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Hand the long groups (one SLURM cluster, one demo server) to the workers first.

    ``--dist loadgroup`` gives out work in collection order; a group collected last keeps one
    worker busy for a minute or more after the other has run out of tests.
    """

    def group(item: pytest.Item) -> int:
        return 0 if item.get_closest_marker("xdist_group") else 1

    items.sort(key=group)  # stable: the order within each part is kept
