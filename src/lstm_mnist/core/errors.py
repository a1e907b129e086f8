"""Errors a user can fix: the CLI prints their message alone, without a traceback."""


class LstmMnistError(Exception):
    """Base of the errors that name the file or option at fault and say what to do."""


class OptionError(LstmMnistError, ValueError):
    """A constructor argument (a config key) has a value the project cannot use."""


class DatasetNotFoundError(LstmMnistError, FileNotFoundError):
    """The IDX files are not where the data module looks, and could not be downloaded."""

    def __init__(self, message: str, reason: str = "") -> None:
        """``reason``: why the download failed, where one was tried."""
        super().__init__(message)
        self.reason = reason


class IDXFormatError(LstmMnistError, ValueError):
    """An IDX file is truncated, oversized or not IDX at all."""


def require(ok: bool, section: str, option: str, value: object, rule: str) -> None:
    """Raise OptionError('<section>.<option>=<value> <rule>.') unless ``ok``.

    ``data.pad_width`` is both the option (``--data.pad_width``) and the place in a config file
    (``pad_width:`` under ``data:``); an empty section names a command's own option (``--index``).
    """
    if not ok:
        key = f"{section}.{option}" if section else f"--{option}"
        raise OptionError(f"{key}={value!r} {rule}.")
