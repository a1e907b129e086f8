"""A grid of experiments is data: a YAML file in configs/grids/, its settings in table order.

A grid names its base config (in configs/), then each setting: the name its table prints, the
dotted keys it changes (``model.hidden_size: 24``; ``trainer.callbacks+: EMAWeightAveraging``
appends a callback) and, where the table shows one, the seed's Keras figure. A setting is an
ordinary fit: ``lstm-mnist fit --config configs/<config> --<key> <value> ...``.
"""

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lstm_mnist.core.errors import OptionError

# The project's checkout (the runner is run from an editable install): its configs and grids.
PROJECT = Path(__file__).resolve().parents[3]
CONFIGS = PROJECT / "configs"
GRIDS = CONFIGS / "grids"
_GRID_KEYS, _SETTING_KEYS = {"config", "settings"}, {"name", "config", "overrides", "keras"}


@dataclass(frozen=True)
class Setting:
    """One row of a grid's table: its base configs, the keys it changes, the seed's figure."""

    name: str
    configs: tuple[str, ...]
    overrides: dict = field(default_factory=dict)
    keras: float | None = None

    def args(self, configs: Path = CONFIGS) -> list[str]:
        """Its fit's arguments: ``--config`` for each base config, then each override."""
        args = [item for config in self.configs for item in ("--config", str(configs / config))]
        for key, value in self.overrides.items():
            text = _as_option(value)
            args += [f"--{key}={text}"] if key.endswith("+") else [f"--{key}", text]
        return args

    @property
    def command(self) -> str:
        """Its arguments as the tables print them, the configs relative to the project."""
        return " ".join(self.args(Path("configs")))


@dataclass(frozen=True)
class Grid:
    """A grid's name and its settings, in the order its table prints them."""

    name: str
    settings: tuple[Setting, ...]

    @classmethod
    def load(cls, grid: str) -> "Grid":
        """A grid by its name (``configs/grids/<name>.yaml``) or a YAML file's path."""
        path = Path(grid) if grid.endswith((".yaml", ".yml")) else GRIDS / f"{grid}.yaml"
        if not path.is_file():
            raise OptionError(
                f"--grid={grid!r}: no such grid; give one of {', '.join(available())} "
                f"(configs/grids/) or the path of a grid file"
            )
        data = yaml.safe_load(path.read_text()) or {}
        _check_keys(path, "the grid", data, _GRID_KEYS)
        base = _configs(data.get("config"))
        settings = []
        for entry in data.get("settings") or []:
            _check_keys(path, f"setting {entry.get('name')!r}", entry, _SETTING_KEYS)
            configs = _configs(entry.get("config")) or base
            overrides = dict(entry.get("overrides") or {})
            settings.append(Setting(entry["name"], configs, overrides, entry.get("keras")))
        if not settings:
            raise OptionError(f"grid file {path} has no settings: list them under 'settings:'")
        return cls(path.stem, tuple(settings))

    def chosen(self, names: list[str] | None) -> list[Setting]:
        """The settings named (all by default), in the grid's order; an unknown name is refused."""
        known = [setting.name for setting in self.settings]
        unknown = sorted(set(names or []) - set(known))
        if unknown:
            raise OptionError(
                f"grid {self.name} has no setting {unknown[0]!r}; its settings: {known}"
            )
        return [setting for setting in self.settings if names is None or setting.name in names]


def available() -> list[str]:
    """The grids in configs/grids/, by name."""
    return sorted(path.stem for path in GRIDS.glob("*.yaml"))


def _configs(value) -> tuple[str, ...]:
    return tuple([value] if isinstance(value, str) else value or [])


def _check_keys(path: Path, where: str, data, allowed: set[str]) -> None:
    if not isinstance(data, dict) or "name" in allowed and "name" not in data:
        raise OptionError(f"grid file {path}: {where} must be a mapping with a name")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise OptionError(
            f"grid file {path}: {where} has an unknown key {unknown[0]!r}; "
            f"the keys are {', '.join(sorted(allowed))}"
        )


def _as_option(value) -> str:
    """A YAML value as the command line writes it: true, null, 0.001."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return str(value)
