"""One pass of fits over a chunk of curves, on either backend, and its certificate.

:class:`Spec` holds everything a chunk fit needs besides the per-curve arrays (it is
pickled to dask workers); :func:`fit_pass` runs the compiled kernel or the numpy
fallback (:mod:`._fallback`), which share the algorithm, the stopping tests and the stop
codes; :func:`certify_pass` applies the single fit's certificate (:mod:`._certify`);
:func:`run_pass` does both.  The per-curve arrays are those of ``KEYS`` (:func:`alloc`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._certify import certify_chunk
from ._model import BatchModel


@dataclass
class Spec:
    """Everything a chunk fit needs besides the per-curve arrays (picklable for dask)."""

    bm: BatchModel
    LB: np.ndarray
    UB: np.ndarray
    bounded: bool
    maxiter: int
    gtol: float
    xtol: float
    ftol: float
    tau: float
    absolute_sigma: bool
    rescue: bool
    backend: str  # "compiled" | "numpy"
    parallel: bool
    method: str = "lm"  # "lm" | "varpro" (resolved, never "auto")
    #: the user's (gtol, xtol, ftol): the certificate's tolerances, also for the rescue's
    #: runs with tighter ones
    user_tol: tuple = ()

    @property
    def certify_tol(self) -> tuple:
        return self.user_tol or (self.gtol, self.xtol, self.ftol)


def run_pass(spec: Spec, X, Y, W, P0, out=None):
    """Fit the curves and certify the converged ones; ``out``: the arrays of ``KEYS``
    (allocated when None)."""
    if out is None:
        out = tuple(alloc(Y.shape[0], spec.bm.n_params)[k] for k in KEYS)
    certify_pass(spec, X, Y, W, P0, out, fit_pass(spec, X, Y, W, P0, out))
    return out


def fit_pass(spec: Spec, X, Y, W, P0, out):
    """Fit the curves (kernel or numpy fallback) into ``out`` (not certified yet); return
    the per-curve statistics the certificate reads (gn_gain, condition bound, screen
    ratios: the kernel's ``_curve_results``)."""
    stats = np.empty((Y.shape[0], 4))
    run = out[:6] + (stats,)
    if spec.backend == "compiled":
        from ._kernel import load_kernel, run_kernel

        run_kernel(
            load_kernel(spec.bm, spec.method), X, Y, W, P0, spec.LB, spec.UB, spec.bounded,
            spec.maxiter, spec.gtol, spec.xtol, spec.ftol, spec.tau, spec.absolute_sigma,
            spec.parallel, out=run,
        )
    else:
        from ._fallback import fit_numpy

        res = fit_numpy(
            spec.bm, X, Y, W, P0, spec.LB, spec.UB, spec.bounded, spec.maxiter, spec.gtol,
            spec.xtol, spec.ftol, spec.tau, spec.absolute_sigma,
        )
        for o, r in zip(run, res):
            o[...] = r
    out[6][...] = stats[:, 0]
    return stats


def certify_pass(spec: Spec, X, Y, W, P0, out, stats):
    """:mod:`._certify` on the fitted curves of ``out`` (codes, share and condition set)."""
    linear = ()
    if spec.method == "varpro":  # the linear parameters' starts are not used: no sizes
        from ._codegen import varpro_layout

        linear = varpro_layout(spec.bm)[1]
    share, condition = certify_chunk(spec.bm, X, Y, W, P0, out[:6] + (stats,),
                                     spec.certify_tol, linear)
    out[7][...] = share
    out[8][...] = condition


KEYS = ("params", "cost", "nit", "stop_code", "stderr", "rcond", "gn_gain", "share",
         "condition")


def alloc(N: int, n: int) -> dict:
    return {
        "params": np.empty((N, n)),
        "cost": np.empty(N),
        "nit": np.empty(N, dtype=np.int32),
        "stop_code": np.empty(N, dtype=np.int8),
        "stderr": np.empty((N, n)),
        "rcond": np.empty(N),
        "gn_gain": np.empty(N),
        "share": np.empty(N),
        "condition": np.empty(N),
        "rescued": np.empty(N, dtype=bool),
        "diagnosis_code": np.empty(N, dtype=np.int8),
    }
