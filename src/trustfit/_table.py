"""Reading numeric columns from a CSV file, with errors that point at the cell.

Used by the command line (``trustfit fit DATA.csv``). The first non-comment line is the
header of column names; lines starting with ``#`` and blank lines are skipped; the
delimiter (comma, semicolon, tab or ``|``) is detected from the header. Only the columns
asked for are converted, so a text column elsewhere in the file does no harm. Every error
is an :class:`InputError` with one line saying where: the file, the line number in the
file, the column by name, and the offending text.
"""
from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

DELIMITERS = ",;\t|"


class InputError(ValueError):
    """Bad input from the user (a file, a column, an option): one line, no traceback."""


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
    best = max(counts, key=counts.get)
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
        where = [i for i, h in enumerate(header) if h == name]
        if not where:
            raise InputError(f"{path}: no column {name!r}; the columns are "
                             f"{', '.join(repr(h) for h in header)}")
        if len(where) > 1:
            raise InputError(f"{path}: column {name!r} appears {len(where)} times in the "
                             f"header (line {header_line})")
        index[name] = where[0]
    values: dict[str, list[float]] = {name: [] for name in names}
    for number, text in lines:
        row = next(csv.reader([text], delimiter=delim), [])
        for name in names:
            i = index[name]
            if i >= len(row):
                raise InputError(f"{path}, line {number}: {len(row)} fields, too few for "
                                 f"column {name!r} (column {i + 1} of the header)")
            cell = row[i].strip()
            if not cell:
                raise InputError(f"{path}, line {number}, column {name!r}: the cell is empty")
            try:
                v = float(cell)
            except ValueError:
                raise InputError(f"{path}, line {number}, column {name!r}: {cell!r} is not "
                                 f"a number") from None
            if not math.isfinite(v):
                raise InputError(f"{path}, line {number}, column {name!r}: {cell!r} is not "
                                 f"a finite number")
            if name in positive and not v > 0:
                raise InputError(f"{path}, line {number}, column {name!r}: {cell!r} is not "
                                 f"positive (measurement errors must be)")
            values[name].append(v)
    if names and not values[names[0]]:
        raise InputError(f"{path}: no data rows after the header (line {header_line})")
    return {name: np.array(v, dtype=float) for name, v in values.items()}


def write_columns(path, columns: dict[str, np.ndarray]) -> None:
    """Write equal-length columns as a CSV file with a header (``repr`` precision)."""
    names = list(columns)
    with Path(path).open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        for row in zip(*(columns[n] for n in names)):
            w.writerow([repr(float(v)) for v in row])
