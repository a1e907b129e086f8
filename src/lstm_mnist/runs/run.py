"""A run: the folder a fit writes, its config.yaml and checkpoints, and what a command may do there.

A fit writes ``<root>/lightning_logs/version_N/`` (the root is ``--trainer.default_root_dir``, the
current folder by default): config.yaml (its whole config), the TensorBoard events and
``checkpoints/`` (the best epoch by the monitored metric, and last.ckpt after every epoch). Without
a logger (``--trainer.logger false``) the root itself is the run. The rules, in one place:

- which checkpoint ``--ckpt_path last`` or ``best`` names (``checkpoint_named``), and which run a
  fit with ``--ckpt_path last`` continues: the newest of the same settings, never another
  (``checkpoint_to_resume``);
- that a run continues only with the settings its config.yaml records (``Run.differences``);
- that a command failing before its first training step leaves nothing it added
  (``LeaveNothingUnstarted``).

The command line, the tools and the SLURM script (through ``fit --ckpt_path last``) all use them.
"""

import inspect
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info
from typing_extensions import override

from lstm_mnist.core.data import TEST_SETTINGS, MNISTDataModule
from lstm_mnist.core.errors import OptionError
from lstm_mnist.core.model import LSTMClassifier
from lstm_mnist.runs.checkpoint import (
    LINKED,
    PRETRAINED,
    CheckpointError,
    load_run,
    read_checkpoint,
    rebuild,
    trained_settings,
)

LOGS = "lightning_logs"
# What makes two fits the same run. The trainer section is left out (a resumed fit may be given
# more epochs), and so are the data settings that only say where the files are or how the
# finished model is read at test time (a run saved before such a setting existed has no value).
SAME_RUN = ("seed_everything", "model", "data", "optimizer", "lr_scheduler")
RUN_LOCAL_DATA = ("data_dir", "download", "predict_files", "on_device", *TEST_SETTINGS)
# What Lightning names the checkpoint it saves on SLURM's requeue signal, in the root folder.
REQUEUE_CHECKPOINTS = "hpc_ckpt_*.ckpt"
NAMED = ("last", "best")  # --ckpt_path last / best


@dataclass(frozen=True)
class Run:
    """One run's folder (absolute): its config.yaml, its checkpoints and its settings."""

    folder: Path

    @classmethod
    def of_checkpoint(cls, path: str | Path) -> "Run | None":
        """The run a checkpoint belongs to, if it belongs to one.

        ``<run>/checkpoints/x.ckpt``'s, or for a requeue checkpoint ``<root>/hpc_ckpt_<n>.ckpt``
        the newest run under that root.
        """
        path = Path(path).absolute()
        if path.parent.name == "checkpoints":
            return cls(path.parent.parent)
        if path.match(REQUEUE_CHECKPOINTS):
            runs = sorted((path.parent / LOGS).glob("*/"), key=lambda run: run.stat().st_mtime)
            return cls(runs[-1]) if runs else None
        return None

    @classmethod
    def all_under(
        cls, root: Path, logged: bool | None = None, requeued: bool = False
    ) -> list["Run"]:
        """The runs under root that have a last.ckpt, newest first.

        ``logged``: only those under ``lightning_logs/`` (True), or only the root's own run of a
        fit without a logger (False); both by default. ``requeued``: also a run whose only
        checkpoint is a requeue checkpoint in the root (SLURM's signal came in its first epoch).
        """
        found = [*(root / LOGS).glob("*/checkpoints/last.ckpt"), root / "checkpoints/last.ckpt"]
        states = {path.parents[1].absolute(): path for path in found if path.is_file()}
        for path in root.glob(REQUEUE_CHECKPOINTS) if requeued else []:
            run = cls.of_checkpoint(path)
            if run is not None and run.folder not in states:
                states[run.folder] = path
        newest = sorted(states, key=lambda folder: states[folder].stat().st_mtime, reverse=True)
        runs = [cls(folder) for folder in newest]
        return [run for run in runs if logged is None or (run.folder != root.absolute()) == logged]

    @property
    def last(self) -> Path:
        """``checkpoints/last.ckpt``: the state after its latest epoch, for resuming."""
        return self.folder / "checkpoints" / "last.ckpt"

    @property
    def best(self) -> Path | None:
        """Its best checkpoint by the monitored metric, as its last.ckpt records it."""
        saved = sorted(p for p in self.last.parent.glob("*.ckpt") if p.name != "last.ckpt")
        if len(saved) > 1 and self.last.is_file():  # save_top_k > 1: ask the record
            for state in read_checkpoint(self.last).get("callbacks", {}).values():
                if state.get("best_model_path") and state.get("monitor"):
                    recorded = self.last.parent / Path(state["best_model_path"]).name
                    if recorded.is_file():
                        return recorded
        return saved[0] if len(saved) == 1 else None

    @property
    def settings(self) -> dict | None:
        """The config.yaml its fit wrote (None for none, or a user's own file of that name)."""
        try:
            saved = yaml.safe_load((self.folder / "config.yaml").read_text())
        except (OSError, yaml.YAMLError):
            return None
        written_by_a_fit = isinstance(saved, dict) and all(key in saved for key in SAME_RUN)
        return saved if written_by_a_fit else None

    @property
    def seed(self) -> int | None:
        """The seed its config.yaml records, if it records one."""
        seed = (self.settings or {}).get("seed_everything")
        return seed if isinstance(seed, int) and not isinstance(seed, bool) else None

    def differences(self, current: dict) -> list[str] | None:
        """How ``current``'s settings differ from those its config.yaml records (None: unknown).

        ``seed_everything: true`` ("any seed") matches every seed: the run continues with its own.
        """
        saved = self.settings
        if saved is None:
            return None
        wanted, settings = run_settings(current), run_settings(saved)
        if wanted["seed_everything"] is True:
            settings["seed_everything"] = True
        return differences(settings, wanted)

    def files(self) -> dict[Path, bytes | None]:
        """Its files now; the bytes of its yaml files, which a failed fit may have rewritten."""
        if not self.folder.is_dir():
            return {}
        paths = (path for path in self.folder.iterdir() if path.is_file())
        return {path: path.read_bytes() if path.suffix == ".yaml" else None for path in paths}


def run_settings(config: dict) -> dict:
    """The parts of a fit's config (as ``config.yaml`` holds it) that make it the run it is.

    A model or data setting added after a run was made has its default there: the run was
    trained without it (a run made before ``data.slant`` existed resumes with slant 0).
    """
    settings = {key: config.get(key) for key in SAME_RUN}
    model = {**_defaults(LSTMClassifier), **(settings["model"] or {})}
    data = {**_defaults(MNISTDataModule), **(settings["data"] or {})}
    for key in RUN_LOCAL_DATA:
        data.pop(key, None)
    return {**settings, "model": model, "data": data}


def _defaults(cls: type) -> dict:
    """A class's constructor defaults (the model's linked sizes left out: the data's to say)."""
    parameters = inspect.signature(cls).parameters.values()
    return {p.name: p.default for p in parameters if p.name not in LINKED}


def differences(saved: dict, current: dict, prefix: str = "") -> list[str]:
    """``key=saved_value (this fit: value)`` for each setting that differs, as dotted keys."""
    found = []
    for key in sorted(set(saved) | set(current), key=str):
        old, new = saved.get(key), current.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            found += differences(old, new, f"{prefix}{key}.")
        elif old != new:
            found.append(f"{prefix}{key}={_brief(old)} (this fit: {_brief(new)})")
    return found


def _brief(value) -> str:
    """A setting as a line can hold it: a class block by its class, not all its arguments."""
    if isinstance(value, dict) and "class_path" in value:
        return repr(value["class_path"])
    return repr(value)


def checkpoint_named(ckpt_path: str, root: Path) -> str:
    """What ``--ckpt_path`` names for evaluation: the newest run's ``last`` or ``best``, or a path.

    The newest run under root is the one whose last.ckpt was written last; ``best`` is its best
    checkpoint by the metric its fit monitored (val/acc), what the README's results report.
    """
    if ckpt_path not in NAMED:
        return ckpt_path
    runs = Run.all_under(root)
    where = f"{LOGS}/*/checkpoints/, or checkpoints/ after --trainer.logger false"
    if not runs:
        raise CheckpointError(
            f"--ckpt_path {ckpt_path}: no run under {root} has checkpoints ({where}); fit one "
            "first, or pass a checkpoint's path"
        )
    if ckpt_path == "last":
        return str(runs[0].last)
    best = runs[0].best
    if best is None:
        raise CheckpointError(
            f"--ckpt_path best: the newest run, {runs[0].folder}, has no best checkpoint beside "
            "its last.ckpt (a fit saves one by val/acc); pass --ckpt_path last or a path"
        )
    return str(best)


def load_trained(
    ckpt_path: str | None, data_dir: str | None = None
) -> tuple[LSTMClassifier, MNISTDataModule]:
    """A checkpoint named as ``--ckpt_path`` names it (a path, ``last``, ``best``) loaded back.

    The names are the newest run's under the current folder; no name is the packaged model.
    """
    return load_run(checkpoint_or_pretrained(ckpt_path, Path.cwd()), data_dir)


def checkpoint_or_pretrained(ckpt_path: str | None, root: Path, command: str = "") -> str:
    """``checkpoint_named``, or where none is given the packaged model, said in one line."""
    if ckpt_path:
        return checkpoint_named(ckpt_path, root)
    if not PRETRAINED.is_file():
        raise CheckpointError(f"the packaged model {PRETRAINED} is missing: pass --ckpt_path")
    rank_zero_info(
        f"{command or 'Using'} the pretrained model in the package ({PRETRAINED.name},"
        " configs/robust.yaml); --ckpt_path for another"
    )
    return str(PRETRAINED)


def checkpoint_to_resume(root: Path, current: dict, logged: bool = True) -> Path:
    """What ``fit --ckpt_path last`` continues: the newest run trained with ``current``'s settings.

    Its newest checkpoint: last.ckpt, or a requeue checkpoint saved after it in the root.
    ``logged``: among the runs under lightning_logs/; otherwise the root's own run, that of a fit
    without a logger (a fit continues its run with the same logging). Otherwise one OptionError
    that says what there is and what to do.
    """
    candidates = Run.all_under(root, logged, requeued=True)
    if not candidates:
        where = f"no run in {root / LOGS} has" if logged else f"{root} has no"
        raise OptionError(
            f"fit --ckpt_path last: nothing to resume, {where} checkpoints/last.ckpt; start the "
            "fit without --ckpt_path"
        )
    found = [(run, run.differences(current)) for run in candidates]
    for run, changed in found:
        if changed == []:
            return _newest_state(run, root)
    run, changed = found[0]
    if changed is None:
        raise OptionError(
            f"fit --ckpt_path last: {run.folder} has no config.yaml written by its fit, so its "
            f"settings are unknown; resume it with --ckpt_path {run.last} and the settings it was "
            "trained with, or start anew without --ckpt_path"
        )
    which = f"no run in {root / LOGS} was" if logged else f"the run in {root} was not"
    newest = f"the newest, {run.folder}," if logged else "it"
    raise OptionError(
        f"fit --ckpt_path last: {which} trained with this fit's settings; {newest} has "
        f"{'; '.join(changed[:3])}. Resume it with --config {run.folder / 'config.yaml'} "
        f"--ckpt_path {run.last}, or start anew without --ckpt_path"
    )


def _newest_state(run: Run, root: Path) -> Path:
    """The run's last.ckpt, or a requeue checkpoint of it saved later (mid-epoch, on SIGUSR1)."""
    requeued = [path for path in root.glob(REQUEUE_CHECKPOINTS) if Run.of_checkpoint(path) == run]
    states = [run.last, *requeued] if run.last.is_file() else requeued
    newest = max(states, key=lambda path: path.stat().st_mtime)
    return newest.absolute()


def check_resume(ckpt_path: str, settings: dict) -> tuple[Run | None, dict]:
    """Whether a fit of these settings may continue from this checkpoint: its run and contents.

    ``settings``: the fit's whole config, as a run's config.yaml records one. The checkpoint holds
    the model's and data's settings, its run's config.yaml the rest (optimizer, scheduler, seed);
    any difference is one CheckpointError that names it and says what to do.
    """
    checkpoint = read_checkpoint(ckpt_path)
    conflicts = [
        f"{section}.{key}={value!r} (this fit: {settings[section].get(key)!r})"
        for section, values in trained_settings(checkpoint).items()
        for key, value in values.items()
        if settings[section].get(key) != value
    ]
    run = Run.of_checkpoint(ckpt_path)
    found = run.differences(settings) if run is not None else None
    if conflicts or found:
        owner = f"belongs to {run.folder}, " if found else ""
        again = f"--config {run.folder / 'config.yaml'}" if found else "its run's config.yaml"
        raise CheckpointError(
            f"checkpoint {ckpt_path} {owner}was trained with {'; '.join((conflicts or found)[:3])}"
            f": resume it with {again} (--config), or start anew without --ckpt_path"
        )
    return run, checkpoint


def evaluation_settings(
    ckpt_path: str, given: dict, told: set[str], command: str, needs_data: bool = True
) -> dict:
    """What test, validate or predict of a checkpoint takes from it: {"model": ..., "data": ...}.

    The model and data settings it was trained with (an option ``told`` on the command line that
    contradicts one is one CheckpointError), and unless told otherwise where its fit found the
    files and how its run is tested (the test-time shifts; a config that turns them on counts).

    Args:
        ckpt_path: The checkpoint's path.
        given: The command's settings so far ({"model": ..., "data": ...}).
        told: The dotted keys given on the command line.
        command: ``test``, ``validate`` or ``predict``, for the message.
        needs_data: Whether the command reads the data set (predict of files does not).
    """
    checkpoint = read_checkpoint(ckpt_path)
    rebuild(checkpoint, ckpt_path)  # its weights fit its settings, or one line
    settings = trained_settings(checkpoint)
    conflicts = [
        f"--{section}.{key} {given[section][key]}"
        for section, values in settings.items()
        for key, value in values.items()
        if f"{section}.{key}" in told and given[section][key] != value
    ]
    if conflicts:
        raise CheckpointError(
            f"checkpoint {ckpt_path} was trained with other settings than {', '.join(conflicts)}: "
            f"drop {'them' if len(conflicts) > 1 else 'it'}; {command} takes the model's settings "
            "from its checkpoint"
        )
    saved = checkpoint.get("datamodule_hyper_parameters", {})
    found = saved.get("data_dir")  # none in a checkpoint that travels (export --format ckpt)
    if "data.data_dir" not in told and found and needs_data:
        if not Path(found).is_dir():
            raise CheckpointError(
                f"checkpoint {ckpt_path} was trained on the files in {found}, which is not a "
                f"folder from {Path.cwd()}: pass --data.data_dir with the folder that holds "
                f"{'FashionMNIST' if saved.get('dataset') == 'fashion_mnist' else 'MNIST'}/raw/"
            )
        settings["data"]["data_dir"] = str(Path(found).absolute())
    shifts_told = "data.test_time_shifts" in told or given["data"].get("test_time_shifts")
    if not shifts_told and "test_time_shifts" in saved:
        settings["data"]["test_time_shifts"] = saved["test_time_shifts"]
    return settings


def check_unlogged_root(root: Path, resumed: Run | None) -> None:
    """Refuse a second new fit without a logger in one folder, which holds one such fit.

    Without a logger a fit writes config.yaml and checkpoints/ into the root folder itself: another
    new one there would overwrite the first one's config.yaml (or the user's own) and mix its
    checkpoints with the first one's. Lightning's own SaveConfigCallback refuses for the same
    reason.
    """
    config, own = root / "config.yaml", Run(root.absolute())
    if not config.exists():
        return
    ours = own.settings is not None  # written by a fit, not the user's own file of that name
    # resumed; or a fit stopped before its first checkpoint, with nothing of it to keep
    if ours and (resumed == own or not (root / "checkpoints").exists()):
        return
    if ours and own.last.is_file():
        raise OptionError(
            f"{root} already holds a fit made with --trainer.logger false ({config}, "
            "checkpoints/): continue it with --ckpt_path last, or give this fit its own "
            "--trainer.default_root_dir"
        )
    raise OptionError(
        f"{config} exists, and a fit with --trainer.logger false writes its own config.yaml "
        "there: give this fit another --trainer.default_root_dir, or move that file"
    )


class LeaveNothingUnstarted(Callback):
    """A command that fails before its first training step leaves the folders as they were.

    A new fit's run folder goes (it would stand in lightning_logs/ beside real runs; without a
    logger, its config.yaml would block the root for the next fit); in a run it continues or
    tests, the files it added (an empty events file) go and its yaml files get their bytes back.
    Once a fit has trained a step, what it wrote is the run's.
    """

    def __init__(self, run: Run | None, new_run: bool = False) -> None:
        """Remember the run's files now, before the command writes anything.

        Args:
            run: The existing run the command writes into (a resumed fit, a test), if any.
            new_run: Whether it writes a new run: into its logger's folder, or without a
                logger into the root folder itself.
        """
        self.run, self.new_run = run, new_run
        self.before = run.files() if run is not None else {}
        self.armed = True

    @override
    def on_train_batch_end(self, trainer, *args) -> None:
        self.armed = False  # it trained

    @override
    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if not (self.armed and trainer.is_global_zero):
            return
        self.armed = False  # once: a test after fit is a trainer call of its own
        for logger in trainer.loggers:  # closed now: Lightning's teardown would write them again
            logger.finalize("failed")
        if self.run is not None:
            for path, content in {**self.run.files(), **self.before}.items():
                if path not in self.before and path.is_file():
                    path.unlink()
                elif content is not None and path.read_bytes() != content:
                    path.write_bytes(content)
        elif self.new_run:
            _discard_new_run(Path(trainer.log_dir), unlogged=trainer.logger is None)


def _discard_new_run(folder: Path, unlogged: bool) -> None:
    """A new run that saved no checkpoint: its folder, or without a logger its config.yaml."""
    if (folder / "checkpoints").exists():
        return
    if unlogged:  # the run is the root folder itself
        (folder / "config.yaml").unlink(missing_ok=True)
    elif folder.is_dir():
        shutil.rmtree(folder)
        if not any(folder.parent.iterdir()):
            folder.parent.rmdir()


def check_folder(path: Path, option: str) -> Path:
    """Raise one OptionError naming ``path`` unless runs can be written there.

    It is a folder, or can be made one, that we can write to. Nothing is created: a check that fails
    later must not leave an empty folder behind.
    """
    existing = next(folder for folder in (path, *path.parents) if folder.exists())
    if not existing.is_dir():
        what = "is a file" if existing == path else f"is under {existing}, a file"
        raise OptionError(f"{option}={str(path)!r} {what}, not a folder: name a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OptionError(f"{option}={str(path)!r} is not writable: name a folder you can write to")
    return path


def writable_file(path: Path, example: str) -> Path:
    """Raise one OptionError naming ``path`` unless a file can be written there.

    Not a folder, not under a file, and its nearest existing folder writable. Nothing is created
    (the writer makes the missing folders when it writes), so a later failure leaves nothing.
    """
    if path.is_dir():
        raise OptionError(f"cannot write {path}: it is a folder; give a file, e.g. {example}")
    existing = next(folder for folder in path.absolute().parents if folder.exists())
    if not existing.is_dir():  # mkdir would only say "File exists"
        raise OptionError(f"cannot write {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OptionError(f"cannot write {path}: {existing} is not writable")
    return path
