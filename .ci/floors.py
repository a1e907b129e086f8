"""The lowest versions pyproject.toml admits, as pip constraints, for CI's second environment.

pyproject.toml is the one place for each floor: this script turns every ``name>=X`` of
[project.dependencies] and of the extras named into ``name==X``. torch and torchvision are not
taken to their floors: they are pinned to the build this interpreter holds (the one installable
on this project's machines), which also keeps pip from trying other torch builds.

    python .ci/floors.py [EXTRA ...] [NAME==VERSION ...]          # print the constraints
    python .ci/floors.py --check [EXTRA ...] [NAME==VERSION ...]  # exit 1 unless held

NAME==VERSION sets one dependency above its floor for a stage (e.g. numpy==2.0: the floors
beside the first numpy 2).
"""

import sys
from contextlib import suppress
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
NOT_PINNED = {"torch", "torchvision"}  # the environment's build; see the module docstring
# Floors that an extra's own floor cannot be installed with: pip is left to raise them.
RAISED_BY = {
    "demo": {
        "typing-extensions": "gradio 6.0 needs pydantic>=2.11.10, which needs >=4.12.2",
    },
}


def floors(extras: list[str], overrides: dict[str, str]) -> dict[str, str]:
    """{distribution name: its lowest admitted version}, in pyproject.toml's order, not torch's.

    Args:
        extras: The extras whose dependencies are included.
        overrides: {name: version} that replaces a dependency's floor.
    """
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        if extra not in project["optional-dependencies"]:
            sys.exit(f"{PYPROJECT.name} has no extra {extra!r}")
        lines += project["optional-dependencies"][extra]
    raised = {name for extra in extras for name in RAISED_BY.get(extra, {})}
    found: dict[str, str] = {}
    for line in lines:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        if name in NOT_PINNED or name in raised:
            continue
        lower = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        if len(lower) != 1:
            sys.exit(f"{PYPROJECT.name}: {line!r} needs one '>=' floor for CI to install")
        found[name] = overrides.get(name, lower[0])
    return found


def held() -> dict[str, str]:
    """{torch, torchvision: the public version this interpreter holds}, those it holds."""
    found = {}
    for name in sorted(NOT_PINNED):
        with suppress(PackageNotFoundError):
            found[name] = Version(version(name)).public  # 2.14.1+cu130 -> 2.14.1
    return found


def check(extras: list[str], overrides: dict[str, str]) -> int:
    """Print each floor beside the installed version; 1 if any differs."""
    wrong = 0
    for name, floor in floors(extras, overrides).items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "missing"
        same = installed != "missing" and Version(installed) == Version(floor)
        wrong += not same
        kind = "set" if name in overrides else "floor"
        print(f"{kind if same else 'NOT THE ' + kind.upper()}: {name} {installed} ({kind} {floor})")
    for name, installed in held().items():
        print(f"held: {name} {installed} (the environment's build)")
    for extra in extras:
        for name, why in RAISED_BY.get(extra, {}).items():
            print(f"raised by [{extra}]: {name} {version(name)} ({why})")
    return 1 if wrong else 0


def parse(arguments: list[str]) -> tuple[list[str], dict[str, str]]:
    """The extras and the {name: version} overrides among the command's arguments."""
    pins = [Requirement(arg) for arg in arguments if "==" in arg]
    overrides = {canonicalize_name(pin.name): str(pin.specifier)[2:] for pin in pins}
    return [arg for arg in arguments if "==" not in arg], overrides


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments[:1] == ["--check"]:
        sys.exit(check(*parse(arguments[1:])))
    pins = {**held(), **floors(*parse(arguments))}
    print("\n".join(f"{name}=={pinned}" for name, pinned in pins.items()))
