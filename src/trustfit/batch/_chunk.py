"""Fitting one chunk of curves: the main pass, the polish and the rescue, in the units
that keep every cost finite (:func:`fit_chunk`, used in memory and on dask workers)."""

from __future__ import annotations

import numpy as np

from ._certify import DIAGNOSIS_OF_CODE, succeeded
from ._followup import polish_pass, rescue_pass
from ._pass import KEYS, Spec, alloc, run_pass


def _unit_weights(Y, W):
    """``(W * scale, scale)`` with ``scale`` the power of two that brings the chunk's
    largest ``|y w|`` near 1.  Multiplying every residual by a power of two is exact: the
    fits, every test and the certificate are the same bit for bit, whatever the chunk,
    and the costs (and the Jacobian's products in variable projection, fourth powers of
    the weights) neither overflow nor underflow for data or sigma from 1e-150 to 1e150."""
    with np.errstate(all="ignore"):
        size = _largest(W) * (_largest(Y) or 1.0)
    if not (0.0 < size < np.inf):
        return W, 1.0
    scale = float(np.ldexp(1.0, -int(np.frexp(size)[1])))
    return W * scale, scale


def _largest(a) -> float:
    """The largest finite ``|a|`` (0 when none), without a temporary the size of ``a``
    unless it holds non-finite values."""
    top = max(abs(float(np.max(a, initial=0.0))), abs(float(np.min(a, initial=0.0))))
    if np.isfinite(top):
        return top
    rows = a.reshape(a.shape[0], -1)
    return max((float(np.max(np.abs(r), initial=0.0, where=np.isfinite(r))) for r in rows),
               default=0.0)


def fit_chunk(spec: Spec, X, Y, W, P0, out: dict | None = None):
    """Fit one chunk of curves (main pass + rescue) into ``out`` (a dict of per-curve
    arrays, see :func:`._pass.alloc`; allocated when None) and return it.

    Deterministic per curve: the result of a curve depends only on its own data, start and
    options, never on the other curves in the chunk (needed for dask == in-memory).
    """
    N = Y.shape[0]
    if out is None:
        out = alloc(N, spec.bm.n_params)
    W, scale = _unit_weights(Y, W)
    res = run_pass(spec, X, Y, W, P0, tuple(out[k] for k in KEYS))
    rescued = out["rescued"]
    rescued[:] = False
    polish_pass(spec, X, Y, W, P0, res)
    if spec.rescue and N:
        rescue_pass(spec, X, Y, W, P0, res, rescued)
    if scale != 1.0:  # back to the user's units (exact, as the scaling was)
        with np.errstate(over="ignore"):
            out["cost"][...] = out["cost"] / (scale * scale)
        if spec.absolute_sigma:
            out["stderr"][...] = out["stderr"] * scale
    reason = out["stop_code"]
    diag = out["diagnosis_code"]
    diag[:] = DIAGNOSIS_OF_CODE[reason]
    diag[rescued & succeeded(reason)] = 1
    return out
