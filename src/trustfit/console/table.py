"""Reading numbers and numeric tables for the command line, with errors that point at the
cell.

**One rule for every number the command line reads** (CSV cells, ``--p0``, ``--bounds``,
``--sigma``, ``--x-linspace``; :func:`parse_number`): ASCII digits with an optional sign,
an optional decimal point and an optional exponent (``-1.5e3``, ``.5``, ``2.``); spaces
around it are ignored. Python's ``float`` is more lenient (``0_5`` is 5, Arabic-Indic or
full-width digits are read as digits): those are refused here, so a number means the same
to trustfit as to any other tool reading the file. A number beyond the range of double
precision (``1e400``) is refused, not read as ``inf``. Non-finite words, case-insensitive:
``inf`` (with a sign) only where an infinite value has a meaning, the sides of
``--bounds``; ``nan`` only in a batch stack, where it marks a missing point (that curve is
then reported ``invalid_data``, as for a NaN in a ``.npy`` stack). Everywhere else a
non-finite number is refused.

:func:`read_columns` reads named columns (``trustfit fit DATA.csv``): the first
non-comment line is the header of column names; lines starting with ``#`` and blank lines
are skipped; the delimiter (comma, semicolon, tab or ``|``) is detected from the header.
Only the columns asked for are converted, so a text column elsewhere in the file, however
long its cells, does no harm. :func:`read_matrix` reads a headerless comma-separated stack
(``trustfit batch``). Every error is an :class:`InputError` with one line saying where:
the file, the line number in the file, the column, and the offending text.
"""
from __future__ import annotations

import contextlib
import csv
import math
import re
from pathlib import Path
from typing import NoReturn

import numpy as np

DELIMITERS = ",;\t|"
#: The characters stripped around a cell or an option's value: ASCII white space only.
SPACE = " \t\r\n\f\v"
_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
NUMBER = re.compile(_NUMBER + r"\Z")
INF = re.compile(r"[+-]?inf(?:inity)?\Z", re.IGNORECASE)
NAN = re.compile(r"[+-]?nan\Z", re.IGNORECASE)
#: What a number looks like, for error messages.
NUMBER_RULE = "ASCII digits, an optional sign, decimal point and exponent, e.g. -1.5e3"
#: A batch stack line of numbers (or ``nan``) separated by commas: the fast path of
#: :func:`read_matrix`, which looks at single cells only when a line does not match.
_CELL = rf"[{SPACE}]*(?:{_NUMBER}|[+-]?[nN][aA][nN])[{SPACE}]*"
_ROW = re.compile(rf"{_CELL}(?:,{_CELL})*\Z")
#: Longest cell the CSV reader accepts (Python's csv module stops at 131072 characters; a
#: long text cell in a column the fit does not use must not stop the fit).
FIELD_LIMIT = 2**31 - 1


class InputError(ValueError):
    """Bad input from the user (a file, a column, an option): one line, no traceback."""


def parse_number(text: str, where: str, name: str | None = None, allow_inf: bool = False,
                 allow_nan: bool = False) -> float:
    """``text`` read by the rule of this module. Errors read ``{where}: {name}={text!r} is
    not a number`` (``where``: a file, line and column, or an option; ``name``: the
    parameter an option's value belongs to, if any)."""
    cell = text.strip(SPACE)
    what = f"{where}: {name}={cell!r}" if name is not None else f"{where}: {cell!r}"
    if NUMBER.match(cell):
        value = float(cell)
        if math.isinf(value):
            raise InputError(f"{what} is beyond the range of double precision numbers "
                             f"(about 1.8e308)")
        return value
    if INF.match(cell) and allow_inf:
        return -math.inf if cell.startswith("-") else math.inf
    if NAN.match(cell) and allow_nan:
        return math.nan
    if INF.match(cell) or NAN.match(cell):
        raise InputError(f"{what} is not a finite number")
    if not cell:
        raise InputError(f"{where}: no number given" + (f" for {name}" if name else ""))
    try:
        float(cell)
    except ValueError:
        raise InputError(f"{what} is not a number") from None
    # Python would read it (an underscore, non-ASCII digits, ...): say what a number is.
    raise InputError(f"{what} is not a number (write numbers with {NUMBER_RULE})")


def parse_int(text: str, where: str) -> int:
    """A whole number: ASCII digits with an optional sign (no underscores, no exponent)."""
    cell = text.strip(SPACE)
    if re.fullmatch(r"[+-]?[0-9]{1,18}", cell):
        return int(cell)
    raise InputError(f"{where}: {cell!r} is not a whole number (write it with ASCII digits, "
                     f"at most 18 of them)")


def _lines(path: Path):
    """Yield ``(line_number, text)`` of the file, comment and blank lines skipped."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            for number, text in enumerate(fh, start=1):
                stripped = text.strip()
                if stripped and not stripped.startswith("#"):
                    yield number, text
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a CSV file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a UTF-8 text file ({exc.reason} at byte "
                         f"{exc.start})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _delimiter(header: str) -> str:
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ","


def read_columns(path, names: list[str], positive=()) -> dict[str, np.ndarray]:
    """The named columns of the CSV file at ``path`` as float arrays.

    Raises :class:`InputError` for a missing or unreadable file, an empty file, a column
    that is not in the header (the message lists those that are), a row too short to have
    the column, or a cell that is empty, not a number, or not finite, or not positive in a
    column listed in ``positive`` (such as measurement errors).
    """
    path = Path(path)
    lines = _lines(path)
    first = next(lines, None)
    if first is None:
        raise InputError(f"{path}: the file is empty (expected a header line of column names)")
    header_line, header_text = first
    delim = _delimiter(header_text)
    header = [h.strip() for h in next(csv.reader([header_text], delimiter=delim))]
    index = {}
    for name in names:
        found = [i for i, h in enumerate(header) if h == name]
        if not found:
            raise InputError(f"{path}: no column {name!r}; the columns are "
                             f"{', '.join(repr(h) for h in header)}")
        if len(found) > 1:
            raise InputError(f"{path}: column {name!r} appears {len(found)} times in the "
                             f"header (line {header_line})")
        index[name] = found[0]
    values: dict[str, list[float]] = {name: [] for name in names}
    for number, text in lines:
        try:
            with _field_limit():
                row = next(csv.reader([text], delimiter=delim), [])
        except csv.Error as exc:
            raise InputError(f"{path}, line {number}: not a CSV line ({exc})") from None
        for name in names:
            i = index[name]
            if i >= len(row):
                raise InputError(f"{path}, line {number}: {len(row)} fields, too few for "
                                 f"column {name!r} (column {i + 1} of the header)")
            where = f"{path}, line {number}, column {name!r}"
            if not row[i].strip(SPACE):
                raise InputError(f"{where}: the cell is empty")
            v = parse_number(row[i], where)
            if name in positive and not v > 0:
                raise InputError(f"{where}: {row[i].strip(SPACE)!r} is not positive "
                                 f"(measurement errors must be)")
            values[name].append(v)
    if names and not values[names[0]]:
        raise InputError(f"{path}: no data rows after the header (line {header_line})")
    columns = {name: np.array(v, dtype=float) for name, v in values.items()}
    for name, column in columns.items():
        _check_squares(f"{path}, column {name!r}", column)
    return columns


def _check_squares(where: str, column: np.ndarray) -> None:
    """Least squares sums squares: a column whose sum of squares overflows double
    precision (values near 1e154 / sqrt(rows) and beyond) cannot be fitted as it is."""
    scale = np.max(np.abs(column)) if column.size else 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.sum((column / scale) ** 2) * scale**2 if scale > 0 else 0.0
    if not np.isfinite(total):
        raise InputError(f"{where}: values up to {scale:.3g}: their sum of squares overflows "
                         f"double precision (about 1.8e308); rescale the column")


@contextlib.contextmanager
def _field_limit():
    """Python's csv module refuses cells over 131072 characters, a limit of the whole
    process; lifted while a line is split and put back after."""
    old = csv.field_size_limit(FIELD_LIMIT)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def read_matrix(path, allow_nan: bool = False) -> np.ndarray:
    """A headerless table of numbers separated by commas, one row per line, as a 2-D float
    array (``trustfit batch`` stacks: one curve per row). ``#`` lines and blank lines are
    skipped. ``allow_nan``: ``nan`` cells are read (missing points of a stack).

    Raises :class:`InputError` for a missing or unreadable file, no rows, a cell that is
    not a number by the rule of this module (the first line's message says a stack has no
    header line), and rows of different lengths.
    """
    path = Path(path)
    rows: list[np.ndarray] = []
    first = None
    for number, text in _lines(path):
        text = text.rstrip("\r\n")
        row = None
        if _ROW.match(text) and (allow_nan or "n" not in text.lower()):
            row = np.array(text.split(","), dtype=float)
            if np.isinf(row).any():  # 1e400: the cell-by-cell pass says which cell
                row = None
        if row is None:
            _refuse(f"{path}, line {number}", text.split(","), allow_nan, first is None)
        if first is None:
            first = (number, row.size)
        elif row.size != first[1]:
            raise InputError(f"{path}, line {number}: {row.size} values, but line {first[0]} "
                             f"has {first[1]}; every row must have the same number of values")
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: no rows of numbers in the file")
    return np.vstack(rows)


def _refuse(where: str, cells: list[str], allow_nan: bool, first_line: bool) -> NoReturn:
    """The error for the first cell of a line that is not a number."""
    for column, cell in enumerate(cells, start=1):
        at = f"{where}, column {column}"
        if not cell.strip(SPACE):
            raise InputError(f"{at}: the cell is empty"
                             + ("; write nan for a missing point" if allow_nan else ""))
        try:
            parse_number(cell, at, allow_nan=allow_nan)
        except InputError as exc:
            word = cell.strip(SPACE)
            if first_line and not (NUMBER.match(word) or NAN.match(word) or INF.match(word)):
                raise InputError(f"{exc} (a stack has one curve per row and no header "
                                 f"line)") from None
            raise
    raise AssertionError(where)  # every line the fast path refuses has a bad cell


def write_columns(path, columns: dict[str, np.ndarray]) -> None:
    """Write equal-length columns as a CSV file with a header (``repr`` precision)."""
    names = list(columns)
    with Path(path).open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        for row in zip(*(columns[n] for n in names)):
            w.writerow([repr(float(v)) for v in row])
