"""Where runs live: ``<root>/lightning_logs/version_N``, and which of them a resume continues.

A fit writes its TensorBoard events, ``config.yaml`` and ``checkpoints/`` into one run folder
under ``--trainer.default_root_dir`` (the current folder by default). ``fit --ckpt_path last``
continues the newest run that was trained with this fit's settings, never another one.
"""

import os
from pathlib import Path

import yaml

from lstm_mnist.core.data import TEST_SETTINGS
from lstm_mnist.core.errors import OptionError

LOGS = "lightning_logs"
# What makes two fits the same run. The trainer section is left out (a resumed fit may be given
# more epochs), and so are the data settings that only say where the files are or how the
# finished model is read at test time (a run saved before such a setting existed has no value).
SAME_RUN = ("seed_everything", "model", "data", "optimizer", "lr_scheduler")
RUN_LOCAL_DATA = ("data_dir", "download", "predict_files", "on_device", *TEST_SETTINGS)


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


def last_checkpoints(root: Path) -> list[Path]:
    """Every run's last.ckpt under root, newest first.

    ``<root>/lightning_logs/*/checkpoints/last.ckpt``, and ``<root>/checkpoints/last.ckpt`` of a
    fit without a logger (``--trainer.logger false``), whose run folder is the root itself.
    """
    found = [*(root / LOGS).glob("*/checkpoints/last.ckpt"), root / "checkpoints" / "last.ckpt"]
    found = [path for path in found if path.is_file()]
    return sorted(found, key=lambda path: path.stat().st_mtime, reverse=True)


def run_settings(config: dict) -> dict:
    """The parts of a fit's config (as ``config.yaml`` holds it) that make it the run it is."""
    settings = {key: config.get(key) for key in SAME_RUN}
    data = dict(settings["data"] or {})
    for key in RUN_LOCAL_DATA:
        data.pop(key, None)
    return {**settings, "data": data}


def differences(saved: dict, current: dict, prefix: str = "") -> list[str]:
    """``key=saved_value`` for each setting that differs, as dotted keys."""
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


def run_to_resume(root: Path, current: dict, logged: bool = True) -> Path:
    """The newest ``last.ckpt`` whose run was trained with ``current``'s settings.

    ``logged``: among the runs under lightning_logs/; otherwise the root's own run, that of a fit
    without a logger (a fit continues its run with the same logging). Otherwise one OptionError
    that says what there is and what to do.
    """
    candidates = [path for path in last_checkpoints(root) if (path.parents[1] != root) == logged]
    if not candidates:
        where = f"no run in {root / LOGS} has" if logged else f"{root} has no"
        raise OptionError(
            f"fit --ckpt_path last: nothing to resume, {where} checkpoints/last.ckpt; start the "
            "fit without --ckpt_path"
        )
    mismatch = []
    for last in candidates:
        found = run_differences(last.parents[1], current)
        if found == []:
            return last
        mismatch.append((last.parents[1], found))
    run, found = mismatch[0]
    which = f"no run in {root / LOGS} was" if logged else f"the run in {root} was not"
    newest = f"the newest, {run}," if logged else "it"
    last = run / "checkpoints" / "last.ckpt"
    if found is None:
        raise OptionError(
            f"fit --ckpt_path last: {run} has no config.yaml written by its fit, so its settings "
            f"are unknown; resume it with --ckpt_path {last} and the settings it was trained "
            "with, or start anew without --ckpt_path"
        )
    raise OptionError(
        f"fit --ckpt_path last: {which} trained with this fit's settings; {newest} has "
        f"{'; '.join(found[:3])}. Resume it with --config {run / 'config.yaml'} --ckpt_path "
        f"{last}, or start anew without --ckpt_path"
    )


def run_differences(run: Path, current: dict) -> list[str] | None:
    """How ``current``'s settings differ from those the run's config.yaml records (None: none).

    ``seed_everything: true`` ("any seed") matches every seed: the run continues with its own.
    """
    saved = _saved_config(run)
    if saved is None:
        return None
    wanted, settings = run_settings(current), run_settings(saved)
    if wanted["seed_everything"] is True:
        settings["seed_everything"] = True
    return differences(settings, wanted)


def has_run_config(run: Path) -> bool:
    """Whether the folder holds a config.yaml that a fit wrote (not a user's file of that name)."""
    return _saved_config(run) is not None


def run_seed(run: Path | None) -> int | None:
    """The seed a run's config.yaml records, if it records one."""
    saved = _saved_config(run) if run is not None else None
    seed = saved.get("seed_everything") if saved else None
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def _saved_config(run: Path) -> dict | None:
    """The config.yaml a fit wrote into its run folder; not a user's own file of that name."""
    try:
        saved = yaml.safe_load((run / "config.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return None
    written_by_a_fit = isinstance(saved, dict) and all(key in saved for key in SAME_RUN)
    return saved if written_by_a_fit else None
