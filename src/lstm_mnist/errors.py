"""Errors a user can fix: the CLI prints their message alone, without a traceback."""


class LstmMnistError(Exception):
    """Base of the errors that name the file or option at fault and say what to do."""


class OptionError(LstmMnistError, ValueError):
    """A constructor argument (a config key) has a value the project cannot use."""


class DatasetNotFoundError(LstmMnistError, FileNotFoundError):
    """The IDX files are not where the data module looks, and could not be downloaded."""


class IDXFormatError(LstmMnistError, ValueError):
    """An IDX file is truncated, oversized or not IDX at all."""


def require(ok: bool, section: str, option: str, value: object, rule: str) -> None:
    """Raise OptionError('<section> option <option>=<value> <rule>.') unless ``ok``."""
    if not ok:
        raise OptionError(f"{section} option {option}={value!r} {rule}.")
