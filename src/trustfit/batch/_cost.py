"""Predicted seconds of a batch fit on each backend, from its sizes and measured constants.

The prediction (what ``backend='auto'`` compares, :mod:`._backend`)::

    numpy     T_np = L * iter_s + U * E * elem_s
    compiled  T_c  = ready_s + U * E * kernel_elem_s

with ``U = N m (n + 1)^2`` work units per iteration (N curves of m points, n parameters:
each iteration evaluates the model and its n derivatives at m points and forms the
n x n normal matrix), ``E = EXPECTED_ITERATIONS`` iterations per curve, ``L = LOOPS``
passes of the numpy loop (it runs until the slowest curve of the batch stops, then the
polish and rescue passes run theirs), and ``ready_s`` 0 for a kernel loaded in this
process, ``load_s`` for one cached on disk, ``compile_s`` for one to compile.

The constants are this machine's, measured, in the record ``machine-<tag>.json`` of the
private cache folder (:mod:`._records`; ``tag`` names the host, the cores, Python and
numpy, so a cache folder shared between machines keeps one record per machine):

* ``iter_s``, ``elem_s``: a calibration run timed once per machine
  (:func:`calibrate`, ~10-30 ms; run only when a decision needs it: before, the upper
  bounds ``BOUND_ITER_S``, ``BOUND_ELEM_S`` settle every batch that numpy finishes sooner
  than a kernel loads, even at those bounds): the numpy path fits one curve, then 192 copies of it
  (the copies take exactly the same iterations), each twice, keeping the faster time;
  the one-curve time per iteration is ``iter_s`` and the extra time of the copies per
  unit and iteration is ``elem_s``.
* ``compile_s``, ``load_s``, ``kernel_elem_s``: measured on this machine's own work, each
  time a kernel is compiled, loaded from the cache, or runs a batch long enough to time
  (at least ``MIN_TIMED_S``), averaged with the previous value (:func:`observe`).  Until
  then, the documented defaults below, measured on a 2-core machine (issue 21): a cold
  compile 12 s, a load in a new process (importing numba included) 0.35 s, and the
  kernel 25 times the numpy path's throughput.

A prediction needs to be right within a factor of about two: the choice matters only
when one backend is clearly sooner (a compile takes seconds; a hundred curves on numpy
take milliseconds).
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
import sys
import time
from typing import TypeGuard

import numpy as np

from ._records import read_record, update_record

EXPECTED_ITERATIONS = 12.0
LOOPS = 3.0 * EXPECTED_ITERATIONS
DEFAULT_COMPILE_S = 12.0
DEFAULT_LOAD_S = 0.35
DEFAULT_KERNEL_SPEEDUP = 25.0
MIN_TIMED_S = 0.05
#: Upper bounds on the numpy path's constants, for deciding before a calibration: 5 times
#: those measured on a 2-core machine (2.6e-4 s, 4.2e-9 s); a guess, not a guarantee (the
#: same machine under a load of 14 measured 2.8e-8 s per unit): they decide only batches
#: that numpy finishes in well under a kernel's load time, where a miss costs little.
BOUND_ITER_S = 1.3e-3
BOUND_ELEM_S = 2.1e-8
_RANGE = (1e-12, 1e4)  # a stored constant outside this range (seconds) is ignored


def machine_record() -> str:
    """The name of this machine's record of constants."""
    text = "|".join([platform.node(), str(os.cpu_count()), platform.machine(),
                     "%d.%d" % sys.version_info[:2], np.__version__])
    return "machine-" + hashlib.sha256(text.encode()).hexdigest()[:12] + ".json"


def _valid(value: object) -> TypeGuard[float]:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and _RANGE[0] <= value <= _RANGE[1])


def constants(measure: bool = True) -> dict:
    """This machine's constants, calibrating the numpy path first if never done; with
    ``measure=False`` the upper bounds ``BOUND_ITER_S``, ``BOUND_ELEM_S`` stand in for a
    calibration not yet run (``out['bounds']`` True), for a decision that is clear
    without it."""
    rec = read_record(machine_record())
    out: dict[str, float | bool] = {"bounds": False}
    if not (_valid(rec.get("iter_s")) and _valid(rec.get("elem_s"))):
        if measure:
            rec.update(calibrate())
            update_record(machine_record(), {k: rec[k] for k in ("iter_s", "elem_s")})
        else:
            rec.update(iter_s=BOUND_ITER_S, elem_s=BOUND_ELEM_S)
            out["bounds"] = True
    out.update(iter_s=float(rec["iter_s"]), elem_s=float(rec["elem_s"]))
    out["compile_s"] = float(rec["compile_s"]) if _valid(rec.get("compile_s")) \
        else DEFAULT_COMPILE_S
    out["load_s"] = float(rec["load_s"]) if _valid(rec.get("load_s")) else DEFAULT_LOAD_S
    out["kernel_elem_s"] = float(rec["kernel_elem_s"]) if _valid(rec.get("kernel_elem_s")) \
        else out["elem_s"] / DEFAULT_KERNEL_SPEEDUP
    return out


def units(N: int, m: int, n: int) -> float:
    """Work units of one iteration over the batch: ``N m (n + 1)^2``."""
    return float(N) * float(m) * float(n + 1) ** 2


def predict_numpy(N: int, m: int, n: int, const: dict) -> float:
    return LOOPS * const["iter_s"] + units(N, m, n) * EXPECTED_ITERATIONS * const["elem_s"]


def predict_compiled(N: int, m: int, n: int, const: dict, ready_s: float) -> float:
    return ready_s + units(N, m, n) * EXPECTED_ITERATIONS * const["kernel_elem_s"]


def observe(name: str, seconds: float) -> None:
    """Fold a measured ``compile_s``, ``load_s`` or ``kernel_elem_s`` into the record (the
    mean of the new value and the previous one, so one slow run moves it halfway)."""
    if not _valid(seconds):
        return
    rec = read_record(machine_record())
    old = rec.get(name)
    value = 0.5 * (old + seconds) if _valid(old) else seconds
    update_record(machine_record(), {name: value})


def observe_kernel_run(N: int, m: int, n: int, mean_nit: float, fit_s: float) -> None:
    """Record the kernel's throughput from a compiled batch that took at least
    ``MIN_TIMED_S`` (shorter ones are dominated by the call's fixed costs)."""
    if fit_s >= MIN_TIMED_S and mean_nit > 0:
        observe("kernel_elem_s", fit_s / (units(N, m, n) * mean_nit))


class _Calibration:
    """A minimal model for the numpy path: ``a exp(-b t) + c`` and its exact Jacobian."""

    n_params = 3
    symbolic = False
    n_independent = 1

    @staticmethod
    def func(t, a, b, c):
        return a * np.exp(-b * t) + c

    @staticmethod
    def jac_func(t, a, b, c):
        e = np.exp(-b * t)
        shape = np.broadcast(t, a).shape
        return np.stack([np.broadcast_to(e, shape), np.broadcast_to(-a * t * e, shape),
                         np.ones(shape)], axis=-1)


def calibrate(copies: int = 192, m: int = 24) -> dict:
    """Time the numpy path (see the module docstring); ``{'iter_s', 'elem_s'}``."""
    from ._fallback import fit_numpy

    t = np.linspace(0.0, 4.0, m)
    wiggle = 0.01 * np.sin(7.0 * t + 1.0)  # fixed, identical for every copy
    y = 2.0 * np.exp(-0.7 * t) + 0.5 + wiggle
    bm = _Calibration()
    n = bm.n_params
    inf = np.full(n, np.inf)

    def timed(N):
        Y = np.repeat(y[None, :], N, axis=0)
        args = (bm, t[None, None, :], Y, np.ones((1, m)), np.array([[2.6, 0.9, 0.6]]),
                -inf, inf, False, 50, 1e-8, 1e-8, 1e-8, 1e-3, False)
        best, nit = np.inf, 1
        for _ in range(2):
            t0 = time.perf_counter()
            with np.errstate(all="ignore"):
                res = fit_numpy(*args)
            best = min(best, time.perf_counter() - t0)
            nit = max(int(np.max(res[2])), 1)
        return best, nit

    t1, nit = timed(1)
    tN, _ = timed(copies)
    iter_s = max(t1 / nit, _RANGE[0])
    elem_s = max((tN - t1) / (units(copies - 1, m, n) * nit), _RANGE[0])
    return {"iter_s": iter_s, "elem_s": elem_s}
