"""Options of the ``trustfit`` command: values read by the one number rule of
:mod:`trustfit.console.table`, and output paths checked before any work.

Every error is an :class:`~trustfit.console.table.InputError` naming the option: one line on
stderr, exit status 2.
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
import stat
from pathlib import Path

from .table import SPACE, InputError, parse_int, parse_number


# --- values -----------------------------------------------------------------------------------
def pairs(option: str, text: str) -> list[tuple[str, str]]:
    """``"a=1, b=2"`` -> ``[("a", "1"), ("b", "2")]`` with errors naming the option."""
    out: list[tuple[str, str]] = []
    for item in text.split(","):
        item = item.strip(SPACE)
        if not item:
            continue
        name, eq, value = item.partition("=")
        name, value = name.strip(SPACE), value.strip(SPACE)
        if not eq or not name or not value:
            raise InputError(f"{option}: {item!r} is not of the form name=value")
        if any(n == name for n, _ in out):
            raise InputError(f"{option}: {name!r} is given twice")
        out.append((name, value))
    if not out:
        raise InputError(f"{option}: no values given (write e.g. {option} a=1,b=0.1)")
    return out


def parse_p0(text: str) -> dict[str, float]:
    """``--p0 a=1,b=0.1``: a finite starting value per name."""
    return {n: parse_number(v, "--p0", n) for n, v in pairs("--p0", text)}


def parse_bounds(text: str) -> dict[str, tuple[float, float]]:
    """``"b=0:10, c=:5"``: lower and upper, either side may be empty (no bound) or inf."""
    out = {}
    for name, value in pairs("--bounds", text):
        lo, colon, hi = value.partition(":")
        if not colon:
            raise InputError(f"--bounds: {name}={value!r} must be lower:upper, e.g. "
                             f"{name}=0:10 (either side may be left empty)")
        lower = (parse_number(lo, "--bounds", name, allow_inf=True) if lo.strip(SPACE)
                 else -math.inf)
        upper = (parse_number(hi, "--bounds", name, allow_inf=True) if hi.strip(SPACE)
                 else math.inf)
        if not lower < upper:
            raise InputError(f"--bounds: {name}={value!r}: the lower bound must be below the "
                             f"upper bound")
        out[name] = (lower, upper)
    return out


def parse_linspace(text: str) -> tuple[float, float]:
    """``--x-linspace START,STOP``: two finite numbers."""
    parts = text.split(",")
    if len(parts) != 2:
        raise InputError(f"--x-linspace: {text!r} must be START,STOP, two numbers separated "
                         f"by a comma, e.g. 0,10")
    return (parse_number(parts[0], "--x-linspace", "START"),
            parse_number(parts[1], "--x-linspace", "STOP"))


def parse_positive(option: str, text: str) -> float:
    """A finite number > 0 (a scalar ``--sigma``)."""
    value = parse_number(text, option)
    if not value > 0:
        raise InputError(f"{option}: {text.strip(SPACE)!r} must be positive")
    return value


def whole_number(low: int | None = None):
    """An argparse ``type``: a whole number by :func:`trustfit.console.table.parse_int`, at least
    ``low``; argparse turns the error into its one-line usage error (exit 2)."""
    def convert(text: str) -> int:
        try:
            value = parse_int(text, "value")
        except InputError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix("value: ")) from None
        if low is not None and value < low:
            raise argparse.ArgumentTypeError(f"{value} must be at least {low}")
        return value

    convert.__name__ = "whole number"
    return convert


# --- outputs ----------------------------------------------------------------------------------
def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return a.resolve() == b.resolve()


def check_output(option: str, target, inputs=(), others=()) -> None:
    """Fail before the work, not after it, on an output that cannot be written: a folder,
    a missing folder, an input file (never overwritten), the file of another output
    (``others``: ``(option, path)`` pairs), or a place this process may not write. A
    regular file that exists is opened for appending and closed, unchanged; a new one is
    created and removed. Devices and pipes are written only after the work (an error
    there, such as a full device, is still an :class:`InputError` naming the option)."""
    path = Path(target)
    if path.is_dir():
        raise InputError(f"{option}: {target} is a folder; give a file name")
    parent = path.parent
    if not parent.is_dir():
        raise InputError(f"{option}: cannot write {target}: the folder {parent} does not "
                         f"exist")
    for source in inputs:
        if source is not None and _same_file(path, Path(source)):
            raise InputError(f"{option}: {target} is the input file {source}; refusing to "
                             f"overwrite it")
    for other_option, other in others:
        if other is not None and _same_file(path, Path(other)):
            raise InputError(f"{option}: {target} is also the file of {other_option}; give "
                             f"each output its own file")
    try:
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            path.unlink()
        elif stat.S_ISREG(path.stat().st_mode):
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
    except OSError as exc:
        raise InputError(f"{option}: cannot write {target}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def writing(option: str, target):
    """An error while writing ``target`` (a full device, a folder removed meanwhile) is an
    :class:`InputError` naming the option and the path."""
    try:
        yield
    except OSError as exc:
        raise InputError(f"{option}: cannot write {target}: {exc.strerror or exc}") from None
