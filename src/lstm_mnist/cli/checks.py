"""What a user can get wrong on a command line, found before a run starts, said in one line.

The CLI calls these before it builds anything, so that a bad value is one line naming the file,
key or value, not a traceback from deep inside torch or Lightning, and no folder is left behind.
"""

import importlib
import inspect
import re
from pathlib import Path

import torch
import yaml
from lightning.pytorch.accelerators import CPUAccelerator
from lightning.pytorch.cli import instantiate_class
from lightning.pytorch.utilities import rank_zero_warn

from lstm_mnist.core.errors import OptionError
from lstm_mnist.runs.checkpoint import LINKED


def check_optimization(config) -> None:
    """Build the optimizer and scheduler once, on a stand-in parameter.

    So a value torch refuses (a negative lr, a factor of 2) is one line before the run, not a
    traceback in it.
    """
    if not config.get("optimizer"):
        if config.get("lr_scheduler"):  # LightningCLI would drop it without a word
            raise OptionError(
                "--lr_scheduler needs an --optimizer beside it: without one the model's own "
                "RMSprop (lr 0.001) runs and the scheduler is dropped; add --optimizer RMSprop "
                "--optimizer.lr 0.001 (or another optimizer)"
            )
        return
    optimizer = _build("optimizer", config.optimizer, [torch.nn.Parameter(torch.zeros(1))])
    if config.get("lr_scheduler"):
        _build("lr_scheduler", config.lr_scheduler, optimizer)


def check_checkpointing(config) -> None:
    """Refuse --test_after_fit in a fit that saves no checkpoint to test."""
    if config.get("test_after_fit") and config.trainer.get("enable_checkpointing") is False:
        raise OptionError(
            "--test_after_fit tests the best checkpoint, which --trainer.enable_checkpointing "
            "false does not save: drop one of the two"
        )


def check_cpu_bf16(trainer) -> None:
    """Refuse bf16 autocast on a CPU whose oneDNN has no bfloat16 LSTM.

    On such a CPU (AVX2, without AVX512-BF16 or AMX) the first LSTM step raises "could not create
    a primitive descriptor"; a one-step LSTM asks oneDNN before the run starts.
    """
    if trainer.precision != "bf16-mixed" or not isinstance(trainer.accelerator, CPUAccelerator):
        return
    lstm = torch.nn.LSTM(1, 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        try:
            lstm(torch.zeros(1, 1, 1))
        except RuntimeError:
            raise OptionError(
                "--trainer.precision bf16-mixed: this CPU's oneDNN has no bfloat16 LSTM (it "
                "needs AVX512-BF16 or AMX); use 32-true here, or bf16-mixed on a GPU"
            ) from None


def _build(key: str, spec, first_argument):
    try:
        return instantiate_class(first_argument, spec.as_dict())
    except (ValueError, TypeError) as err:
        name = spec.class_path.rsplit(".", 1)[-1]
        raise OptionError(f"{key} {name}: {err}; change the --{key}.* option") from None


def check_cosine_length(config) -> None:
    """Warn when CosineAnnealingLR's T_max (epochs) differs from trainer.max_epochs.

    jsonargparse cannot link into a scheduler chosen by class_path, so the two are written side by
    side; say so when they differ (e.g. --trainer.max_epochs changed alone) rather than train on a
    cut cosine.
    """
    scheduler = config.get("lr_scheduler")
    if not scheduler or not str(scheduler.get("class_path", "")).endswith("CosineAnnealingLR"):
        return
    t_max, epochs = scheduler.init_args.get("T_max"), config.trainer.max_epochs
    if t_max == epochs:
        return
    mismatch = f"lr_scheduler.init_args.T_max={t_max} but trainer.max_epochs={epochs}"
    if config.get("ckpt_path"):  # a resumed fit keeps its run's schedule
        rank_zero_warn(
            f"{mismatch}: this run's cosine ends after {t_max} epochs and a resumed fit keeps it "
            f"(epochs past {t_max} run the rate back up); to train {epochs} epochs on one "
            f"cosine, start a new run with --lr_scheduler.T_max {epochs}."
        )
    else:
        rank_zero_warn(
            f"{mismatch}: the cosine schedule ends after {t_max} epochs; set "
            f"--lr_scheduler.T_max {epochs} to match."
        )


def check_one_cycle_length(scheduler, fit_steps: float, resumed_from: str | None = None) -> None:
    """Refuse a OneCycleLR whose total_steps differs from the steps this fit will take.

    Too few and torch stops the fit with a traceback when they run out; too many and the learning
    rate never comes down. The count is known only once the data is set up, so this runs when the
    fit builds its optimizer. A resumed run keeps its schedule, so it cannot be made longer.
    """
    if scheduler.total_steps == fit_steps:
        return
    mismatch = (
        f"lr_scheduler OneCycleLR: total_steps={scheduler.total_steps} but this fit takes "
        f"{fit_steps} steps (trainer.max_epochs times the training batches per epoch)"
    )
    if resumed_from:
        raise OptionError(
            f"{mismatch}: a resumed run keeps the schedule it started with, so a OneCycleLR run "
            f"cannot be made longer; start a new one with --lr_scheduler.total_steps {fit_steps}"
        )
    raise OptionError(f"{mismatch}; set --lr_scheduler.total_steps {fit_steps}")


def check_config_files(argv: list[str]) -> None:
    """Raise one OptionError for a --config file (or one it includes) that would go wrong.

    A YAML mistake is named by file, line and column (jsonargparse names "<unicode string>");
    a layering that would undo the included file is named by its section.
    """
    for path in _config_files(argv):
        _check_config_file(path)


def _config_files(argv: list[str]) -> list[Path]:
    """The files given with --config (or -c), in order."""
    paths = []
    for index, arg in enumerate(argv):
        if arg.startswith("--config="):
            paths.append(Path(arg.split("=", 1)[1]))
        elif arg in ("--config", "-c") and index + 1 < len(argv):
            paths.append(Path(argv[index + 1]))
    return paths


# The key an error is about: jsonargparse's "option 'data.x'" and "key \"data.x\"", and ours
# "data.x=3 must be ...".
_KEY_NAMED = re.compile(r"""option '([\w.]+)'|key "([\w.]+)"|^([a-z_]+\.[\w.]+)=""")
# ours about a class's setting: "lr_scheduler OneCycleLR: total_steps=1720 but ..."
_CLASS_SETTING = re.compile(r"^(optimizer|lr_scheduler) \w+: (\w+)=")


def where_set(message: str, argv: list[str]) -> str:
    """The message, with `` (in config file F)`` where the key it names was set in that file.

    A key misspelt in a YAML file reads just like one misspelt on the command line; the file
    is what the user has to open. A key also given on the command line is left as it is.
    """
    match, setting = _KEY_NAMED.search(message), _CLASS_SETTING.search(message)
    key = next((group for group in match.groups() if group), None) if match else None
    if setting:
        key = f"{setting[1]}.init_args.{setting[2]}"
    given = {f"--{key}", f"--{key}".replace(".init_args.", ".")} if key else set()
    if key is None or any(arg.split("=", 1)[0] in given for arg in argv):
        return message
    files = [_sets(path, key.split(".")) for path in _config_files(argv)]
    files = [path for path in files if path is not None]
    return f"{message.rstrip('.')} (in config file {files[-1]})" if files else message


def _sets(path: Path, parts: list[str]) -> Path | None:
    """The file (this one, or one it includes) whose YAML sets the dotted key ``parts``."""
    try:
        settings = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(settings, dict):
        return None
    if _has(settings, parts):
        return path
    if isinstance(settings.get("config"), str):
        return _sets(path.parent / settings["config"], parts)
    return None


def _has(settings: dict, parts: list[str]) -> bool:
    """Whether nested or dotted YAML keys (``data: {x: 1}``, ``data.x: 1``) spell ``parts``."""
    for split in range(len(parts), 0, -1):
        head, rest = ".".join(parts[:split]), parts[split:]
        if head in settings:
            value = settings[head]
            return not rest or (isinstance(value, dict) and _has(value, rest))
    prefix = ".".join(parts) + "."  # a section named by dotted keys under it
    return any(isinstance(key, str) and key.startswith(prefix) for key in settings)


def _check_config_file(path: Path, including: tuple[Path, ...] = ()) -> None:
    if not path.is_file():
        return  # jsonargparse names the missing file
    if path.resolve() in [included.resolve() for included in including]:
        loop = " -> ".join(map(str, (*including, path)))
        raise OptionError(
            f"config files include each other in a loop ({loop}): remove a config: key"
        )
    try:
        settings = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "not valid YAML"
        raise OptionError(f"config file {path}{where}: {problem}; fix the YAML") from None
    if settings is None:
        raise OptionError(
            f"config file {path} holds no settings (empty, or only comments): give it some, or "
            "leave it out"
        )
    linked = [
        key for key in LINKED if isinstance(settings, dict) and _has(settings, ["model", key])
    ]
    if linked:  # jsonargparse drops them from a file without a word
        raise OptionError(f"config file {path}: {_derived(linked[0])}; remove it from the file")
    if isinstance(settings, dict) and isinstance(settings.get("config"), str):
        # the included files first: the layering check reads them, so no loop nor bad YAML there
        included = path.parent / settings["config"]
        if not included.is_file():  # jsonargparse would not say which file names it
            raise OptionError(
                f"config file {path}: its config: {settings['config']} names no file ({included})"
            )
        _check_config_file(included, (*including, path))
        _check_layering(path, settings)


def _check_layering(path: Path, settings: dict) -> None:
    """A section written as a block beside ``config:`` would silently undo the included file.

    jsonargparse (4.53) resets the whole section to the code's defaults before it applies the
    block, so ``model: {init: chrono}`` after ``config: best.yaml`` loses best.yaml's model.
    Dotted keys (``model.init: chrono``) change one setting and keep the rest. A block that
    names another class (``lr_scheduler: {class_path: OneCycleLR, ...}``) means to replace the
    section whole, and may, unless the new class takes a setting the included file makes.
    """
    included = path.parent / settings["config"]
    for section, block in settings.items():
        head, _, rest = section.partition(".")
        if rest and rest.split(".")[0] not in _CLASS_KEYS and _class_in(included, head)[0]:
            # jsonargparse (4.53) reads `lr_scheduler.T_max: 80` beside `config:` as a new class
            # block without its class_path, and fails naming the included file
            raise OptionError(
                f"config file {path}: write '{head}.init_args.{rest}: ...', not '{section}: ...' "
                f"({head} is a class, set in {included}; its settings go under init_args)"
            )
        if section == "config" or not isinstance(block, dict) or not block:
            continue
        new_class = block.get("class_path")
        old_class, old_args = _class_in(included, section)
        if new_class and old_class and _short(new_class) != _short(old_class):
            _check_nothing_dropped(path, section, new_class, old_args, block)
            continue
        key = next(iter(block))
        dotted = (
            f"{section}.init_args.{key}"
            if old_class and key not in _CLASS_KEYS
            else f"{section}.{key}"
        )
        raise OptionError(
            f"config file {path}: the block '{section}:' beside 'config: "
            f"{settings['config']}' would reset every {section} setting that file makes; "
            f"write each key dotted ('{dotted}: ...'), or drop 'config:' and give both: "
            f"--config {included} --config {path}"
        )


_CLASS_KEYS = ("class_path", "init_args", "dict_kwargs")


def _class_in(path: Path, section: str) -> tuple[str | None, dict]:
    """The class a config file (or the file it includes) names for a section, and its init_args."""
    try:
        settings = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):  # checked on its own next, and named there
        return None, {}
    if not isinstance(settings, dict):
        return None, {}
    value = settings.get(section)
    if isinstance(value, str):
        return value, {}
    if isinstance(value, dict) and "class_path" in value:
        return value["class_path"], value.get("init_args") or {}
    if isinstance(settings.get("config"), str):
        return _class_in(path.parent / settings["config"], section)
    return None, {}


def _short(class_path: str) -> str:
    return class_path.rsplit(".", 1)[-1]


def _check_nothing_dropped(
    path: Path, section: str, class_path: str, old: dict, block: dict
) -> None:
    """Refuse a class block that drops a setting its new class would take, e.g. Adam's lr."""
    module, _, name = class_path.rpartition(".")
    try:
        accepted = inspect.signature(getattr(importlib.import_module(module), name)).parameters
    except (ImportError, AttributeError, ValueError):
        return  # a short name: jsonargparse resolves it; nothing here to compare against
    new = block.get("init_args") or {}
    dropped = [key for key in old if key in accepted and key not in new]
    if dropped:
        key = dropped[0]
        raise OptionError(
            f"config file {path}: the block '{section}:' replaces the included file's "
            f"{section} and drops its {key}: {old[key]}; restate it under init_args"
        )


def _derived(key: str) -> str:
    source = "data.dataset" if key == "num_classes" else "data.scan, data.pad_width and data.crop"
    return f"model.{key} is not a setting: the data module gives it (from {source})"


_LINKED_MESSAGE = re.compile(r'Linked "model\.(\w+)" must be given via "data\.\w+"\.?')


def one_line(message: str) -> str:
    """Jsonargparse's and Lightning's messages span lines; the first and the most specific."""
    message = _LINKED_MESSAGE.sub(lambda match: f"{_derived(match[1])}; leave it out", message)
    lines = [line.strip().removeprefix("- ") for line in message.splitlines() if line.strip()]
    if len(lines) == 1:
        return _plain_types(lines[0])
    vague = ("Does not validate", "Subtypes:", "Errors:", "Given value", "Expected a <class 'None")
    specific = [line for line in lines[1:] if not line.startswith(vague)]
    given = next((line[13:] for line in lines if line.startswith("Given value: ")), None)
    return _plain_types(f"{lines[0]} {specific[-1] if specific else ''}".strip(), given)


# jsonargparse names the expected type as Python spells it: "Expected a typing.Literal[0, 4, 8].
# Got value: 3". A user reads the choices, or the kind of value, and what they gave.
_CHOICES = re.compile(r"Expected a typing\.Literal\[(.*)\]\. Got value: (.*)")
_TYPE = re.compile(r"Expected a <class '(\w+)'>(?:\. Got value: (.*))?")
_TYPE_NAMES = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "list": 'a list, e.g. "[0, 1]"',
}


# jsonargparse's restricted numbers (PositiveInt, NonNegativeInt, ClosedUnitInterval, ...): "Not of
# type PositiveInt: 0 does not conform to restriction v>0".
_RESTRICTED = re.compile(r"Not of type \w+: (.+?) does not conform to restriction (.+)")


def _bounds(restriction: str) -> str:
    """``v>=0 and v<=1`` -> ``>= 0 and <= 1``."""
    return re.sub(r"v ?([<>=!]+) ?", r"\1 ", restriction)


def _plain_types(message: str, given: str | None = None) -> str:
    """The type or choices in words; ``given``: the value, when the message names it elsewhere."""
    message = _CHOICES.sub(lambda m: f"got {m[2]}; choose one of {m[1]}", message)
    message = _RESTRICTED.sub(lambda m: f"got {m[1]}; it must be {_bounds(m[2])}", message)

    def words(match: re.Match) -> str:
        value = match[2] or given
        expected = f"expected {_TYPE_NAMES.get(match[1], 'a ' + match[1])}"
        return f"got {value}; {expected}" if value is not None else expected

    return _TYPE.sub(words, message)
