"""``trustfit batch``: the batch mode on the command line (also ``python -m trustfit batch``).

    trustfit batch "x3*exp(x1*t) + x4*exp(x2*t)" stack.npy \\
        --p0 x1=-1,x2=-0.2,x3=1,x4=1 --x-linspace 0,10 --out fits.npz

``DATA`` is an (N, m) ``.npy`` (memory-mapped, so a stack larger than memory is read
chunk by chunk) or ``.csv`` (one curve per row, no header line, ``nan`` for a missing
point).  The results go to ``--out``, exactly the path given: ``.npz`` (arrays
``params``, ``stderr``, ``cost``, ``success``, ``stop_reason``, ``nit``, ``diagnosis``,
``param_names``) or ``.csv`` (one row per curve).  The summary goes to stdout, a progress
bar to stderr when it is a terminal.

Exit status as ``trustfit fit``: 0 when every curve converged, 1 when some did not (the
summary counts them), 2 bad input (one line on stderr; checked before the fit, output path
included), 3 an internal error.

For the project's CLI (:mod:`.command`): ``add_arguments(subparser)`` then
``run_from_args(namespace)``.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np

from ..console.options import (check_output, parse_linspace, parse_p0, parse_positive, whole_number,
                        writing)
from ..console.table import InputError, read_matrix

#: File types an array option may name.
ARRAY_SUFFIXES = (".npy", ".csv", ".txt")
#: File types of ``--out``.
OUT_SUFFIXES = (".npz", ".csv")


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("model", help="model expression, e.g. 'a*exp(-b*t) + c'")
    p.add_argument("data", help="(N, m) stack: .npy or .csv, one curve per row")
    p.add_argument("--p0", required=True,
                   help="start: 'name=value,...' for all curves, or an (n,) / (N, n) .npy/.csv")
    xg = p.add_mutually_exclusive_group()
    xg.add_argument("--x", help="independent variable: (m,) or (N, m) .npy/.csv")
    xg.add_argument("--x-linspace", metavar="START,STOP",
                    help="x = linspace(START, STOP, m) (default: 0, 1, ..., m-1)")
    p.add_argument("--independent", default="t", help="name of the variable (default t)")
    p.add_argument("--sigma", help="a positive number, or (m,) / (N, m) .npy/.csv")
    p.add_argument("--out", help="results file, .npz or .csv; default: summary only")
    p.add_argument("--maxiter", type=whole_number(0), default=200)
    p.add_argument("--method", choices=("auto", "varpro", "lm"), default="auto",
                   help="auto (default): variable projection for separable models, else lm")
    p.add_argument("--no-rescue", action="store_true", help="do not refit stalled curves")
    p.add_argument("--backend", choices=("auto", "compiled", "numpy"), default="auto",
                   help="auto (default): numpy when it finishes sooner than compiling or "
                        "loading the kernel, else the compiled kernel")
    p.add_argument("--chunk-size", type=whole_number(1), default=65536)
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (it is drawn only when stderr is a terminal)")
    return p


def _load_npy(path: str, mmap: bool) -> np.ndarray:
    try:
        arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a .npy file") from None
    except ValueError as exc:
        if "object" in str(exc).lower() or "pickle" in str(exc).lower():
            raise InputError(f"{path}: holds Python objects, not numbers (an object array "
                             f"or a pickle); save a float array with numpy.save") from None
        raise InputError(f"{path}: not a readable .npy array ({exc})") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{path}: not a readable .npy array "
                         f"({getattr(exc, 'strerror', None) or exc or 'empty file'})") from None
    if not isinstance(arr, np.ndarray):  # np.load reads .npz archives whatever their name
        if hasattr(arr, "close"):
            arr.close()
        raise InputError(f"{path}: a .npz archive, not a .npy array")
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{path}: holds {arr.dtype} values, not real numbers")
    return arr


def _load_array(option: str, path: str, stack: bool = False) -> np.ndarray:
    """An array option's file: ``.npy`` (memory-mapped for the stack) or a headerless
    ``.csv`` by the number rule of :mod:`trustfit._table` (``nan`` only in the stack). A
    one-row or one-column CSV of an option is 1-D, as with ``np.loadtxt(ndmin=1)``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".npy":
        return _load_npy(path, mmap=stack)
    if suffix in (".csv", ".txt"):
        arr = read_matrix(path, allow_nan=stack)
        return arr if stack else np.atleast_1d(np.squeeze(arr))
    raise InputError(f"{option}: {path}: unsupported file type; use .npy or .csv")


def _is_file_option(text: str) -> bool:
    return text.lower().endswith(ARRAY_SUFFIXES)


def _stack(path: str) -> np.ndarray:
    Y = _load_array("DATA", path, stack=True)
    if Y.ndim == 0:
        raise InputError(f"{path}: a single number, not an (N, m) stack of curves")
    if Y.ndim == 1:
        Y = Y[None, :]
    if Y.ndim != 2:
        raise InputError(f"{path}: shape {Y.shape}; a stack is (N, m): N curves of m points")
    if Y.size == 0:
        raise InputError(f"{path}: shape {Y.shape}, no data to fit")
    if Y.dtype != np.float64:  # integers, float32, big-endian: the kernel reads float64
        Y = np.asarray(Y, dtype=np.float64)
    return Y


def _sigma(text: str | None):
    if text is None:
        return None
    if _is_file_option(text):
        return _load_array("--sigma", text)
    try:
        return parse_positive("--sigma", text)
    except InputError as exc:
        raise InputError(f"{exc} (give a positive number or a .npy/.csv file)") from None


def _check_out(ns) -> None:
    if ns.out is None:
        return
    if not ns.out.lower().endswith(OUT_SUFFIXES):
        raise InputError(f"--out: {ns.out}: end the name in .npz or .csv (the format follows "
                         f"the name)")
    inputs = [ns.data] + [v for v in (ns.x, ns.sigma, ns.p0) if v and _is_file_option(v)]
    check_output("--out", ns.out, inputs=inputs)


def _write(res, path: str) -> None:
    """Write the results to exactly ``path`` (``np.savez`` given a name would append .npz)."""
    with writing("--out", path):
        if path.lower().endswith(".csv"):
            n = len(res.param_names)
            cols = np.column_stack([res.params, res.stderr, res.cost, res.nit,
                                    res.success.astype(int)])
            header = ",".join(res.param_names + [f"stderr_{k}" for k in res.param_names]
                              + ["cost", "nit", "success", "stop_reason", "diagnosis"])
            with open(path, "w") as fh:
                fh.write(header + "\n")
                for i in range(len(res)):
                    vals = ",".join(repr(float(v)) for v in cols[i, : 2 * n + 1])
                    fh.write(f"{vals},{int(cols[i, 2 * n + 1])},{int(cols[i, 2 * n + 2])},"
                             f"{res.stop_reason[i].name},{res.diagnosis[i]}\n")
        else:
            with open(path, "wb") as fh:
                np.savez(fh, params=res.params, stderr=res.stderr, cost=res.cost,
                         success=res.success, nit=res.nit,
                         stop_reason=np.array([r.name for r in res.stop_reason]),
                         diagnosis=res.diagnosis, param_names=np.array(res.param_names))


def _first_line(exc: BaseException | str) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def run_from_args(ns) -> int:
    from ..batch import CompileWarning, fit_batch
    from ..console.progress import Progress

    _check_out(ns)
    Y = _stack(ns.data)
    N, m = Y.shape
    if ns.x is not None:
        x = _load_array("--x", ns.x)
    elif ns.x_linspace:
        x = np.linspace(*parse_linspace(ns.x_linspace), m)
    else:
        x = np.arange(m, dtype=float)
    sigma = _sigma(ns.sigma)
    p0 = _load_array("--p0", ns.p0) if _is_file_option(ns.p0) else parse_p0(ns.p0)
    bar = Progress(N, "batch", enabled=None if not ns.no_progress else False)

    def advance(done, total):
        bar.advance(done - bar.done, note="curves")

    with bar, warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always", CompileWarning)
        try:
            res = fit_batch(
                ns.model, x, Y, p0, sigma=sigma, maxiter=ns.maxiter, method=ns.method,
                rescue=not ns.no_rescue, chunk_size=ns.chunk_size, backend=ns.backend,
                progress=advance if bar.enabled else None, independent=ns.independent,
            )
        except ValueError as exc:
            raise InputError(_first_line(exc)) from None
    for w in caught:  # the compile fallback: one line, the fit went on
        if issubclass(w.category, CompileWarning):
            print(f"trustfit batch: note: {_first_line(w.message)}", file=sys.stderr)
    if ns.out:
        _write(res, ns.out)
    print(json.dumps(res.summary(), indent=1))
    return 0 if bool(np.all(res.success)) else 1
