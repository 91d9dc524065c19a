"""Command-line entry of the batch mode, for ``trustfit batch`` (and ``python -m trustfit.batch``).

    trustfit batch "x3*exp(x1*t) + x4*exp(x2*t)" stack.npy \\
        --p0 x1=-1,x2=-0.2,x3=1,x4=1 --x-linspace 0,10 --out fits.npz

``DATA`` is an (N, m) ``.npy`` (memory-mapped, so a stack larger than memory is read
chunk by chunk) or ``.csv`` (one curve per row).  The results go to ``--out``: ``.npz``
(arrays ``params``, ``stderr``, ``cost``, ``success``, ``stop_reason``, ``nit``,
``diagnosis``, ``param_names``) or ``.csv`` (one row per curve).  A progress bar goes
to stderr, the summary to stdout.

For the project's CLI: ``add_arguments(subparser)`` then ``run_from_args(namespace)``;
or ``run_batch_cli(argv)`` which parses ``argv`` itself.  Both return an exit code.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


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
    p.add_argument("--sigma", help="scalar, or (m,) / (N, m) .npy/.csv")
    p.add_argument("--out", help="results file (.npz or .csv); default: summary only")
    p.add_argument("--maxiter", type=int, default=200)
    p.add_argument("--method", choices=("auto", "varpro", "lm"), default="auto",
                   help="auto (default): variable projection for separable models, else lm")
    p.add_argument("--no-rescue", action="store_true", help="do not refit stalled curves")
    p.add_argument("--chunk-size", type=int, default=65536)
    p.add_argument("--no-progress", action="store_true")
    return p


def _load_array(path: str, mmap: bool = False) -> np.ndarray:
    if path.endswith(".npy"):
        return np.load(path, mmap_mode="r" if mmap else None)
    if path.endswith(".csv") or path.endswith(".txt"):
        return np.loadtxt(path, delimiter=",", ndmin=2 if mmap else 1)
    raise ValueError(f"{path}: unsupported file type; use .npy or .csv")


def _parse_p0(text: str):
    if text.endswith((".npy", ".csv", ".txt")):
        return _load_array(text)
    out = {}
    for item in text.split(","):
        if "=" not in item:
            raise ValueError(f"--p0: {item!r} is not name=value; use e.g. a=1,b=0.5 or a file")
        k, v = item.split("=", 1)
        out[k.strip()] = float(v)
    return out


def run_from_args(ns) -> int:
    from .api import fit_batch

    Y = _load_array(ns.data, mmap=True)
    if Y.ndim == 1:
        Y = Y[None, :]
    m = Y.shape[-1]
    if ns.x is not None:
        x = _load_array(ns.x)
    elif ns.x_linspace:
        a, b = (float(v) for v in ns.x_linspace.split(","))
        x = np.linspace(a, b, m)
    else:
        x = np.arange(m, dtype=float)
    sigma = None
    if ns.sigma is not None:
        try:
            sigma = float(ns.sigma)
        except ValueError:
            sigma = _load_array(ns.sigma)
    try:
        res = fit_batch(
            ns.model, x, Y, _parse_p0(ns.p0), sigma=sigma, maxiter=ns.maxiter,
            method=ns.method, rescue=not ns.no_rescue, chunk_size=ns.chunk_size,
            progress=not ns.no_progress, independent=ns.independent,
        )
    except ValueError as exc:
        print(f"trustfit batch: error: {exc}", file=sys.stderr)
        return 2
    if ns.out:
        if ns.out.endswith(".csv"):
            n = len(res.param_names)
            cols = np.column_stack([res.params, res.stderr, res.cost, res.nit,
                                    res.success.astype(int)])
            header = ",".join(res.param_names + [f"stderr_{k}" for k in res.param_names]
                              + ["cost", "nit", "success", "stop_reason", "diagnosis"])
            with open(ns.out, "w") as fh:
                fh.write(header + "\n")
                for i in range(len(res)):
                    vals = ",".join(repr(float(v)) for v in cols[i, : 2 * n + 1])
                    fh.write(f"{vals},{int(cols[i, 2 * n + 1])},{int(cols[i, 2 * n + 2])},"
                             f"{res.stop_reason[i].name},{res.diagnosis[i]}\n")
        else:
            np.savez(ns.out, params=res.params, stderr=res.stderr, cost=res.cost,
                     success=res.success, nit=res.nit,
                     stop_reason=np.array([r.name for r in res.stop_reason]),
                     diagnosis=res.diagnosis, param_names=np.array(res.param_names))
    print(json.dumps(res.summary(), indent=1))
    return 0


def run_batch_cli(argv=None) -> int:
    p = argparse.ArgumentParser(prog="trustfit batch", description=__doc__.split("\n")[0])
    add_arguments(p)
    return run_from_args(p.parse_args(argv))
