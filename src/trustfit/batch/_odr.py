"""``fit_batch(..., sigma_x=...)``: orthogonal distance regression (errors in x and y) for many
curves, each by :func:`trustfit.odr` (the structured Levenberg-Marquardt of
:mod:`trustfit.kinds.odr_loop`, or with finite bounds the foot-point path; certified,
polished and rescued as a single fit is).

The curves are fitted one after another on the numpy backend (the compiled kernel has no
ODR; ``backend_reason`` says so). Every per-curve quantity is the single fit's: ``params``,
``cost`` (half the full weighted sum of squares over y and x), ``stderr`` (following
``absolute_sigma`` as :func:`trustfit.odr` does), ``success`` (its certificate), and
:class:`OdrBatchResult` adds ``delta`` and ``x_adjusted`` (the shape of the stack's ``x``
per curve: ``(N, m)``, or ``(N, k, m)`` for ``k`` independent variables). Stop codes are the
batch's (:data:`._certify.CODES`): the single fit's ``ROUNDING`` (its cost test at the
rounding level, a success) is recorded as ``COST``; a curve whose model is not finite at its
start is ``invalid_start``, a curve with non-finite data, sigma or sigma_x ``invalid_data``.
``share``, ``condition``, ``rcond`` and ``gn_gain`` come from the singular values of the
column-scaled reduced Jacobian at the solution (:mod:`trustfit.kinds.odr_linalg`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.result import StopReason
from ._certify import DIAGNOSIS_OF_CODE
from ._model import BatchModel
from ._pass import alloc
from .result import BatchResult

#: The batch stop code of a single fit's stop reason (module docstring).
_CODE = {StopReason.GRADIENT: 1, StopReason.STEP: 2, StopReason.COST: 3,
         StopReason.ROUNDING: 3, StopReason.MAX_ITER: 4, StopReason.MAX_NFEV: 4,
         StopReason.NO_PROGRESS: 7, StopReason.STALLED: 9, StopReason.DEGENERATE: 10}


@dataclass
class OdrBatchResult(BatchResult):
    """A :class:`BatchResult` of ``fit_batch(..., sigma_x=...)`` (:mod:`._odr`) with the
    corrections ``delta`` and ``x_adjusted = x + delta`` per curve (NaN where not fitted)."""

    delta: np.ndarray = field(default_factory=lambda: np.empty(0))
    x_adjusted: np.ndarray = field(default_factory=lambda: np.empty(0))


def resolve(method: str, backend: str):
    """``(method, backend, reason)``: every curve by :func:`trustfit.odr`, on numpy."""
    if method == "varpro":
        raise ValueError("method: 'varpro' does not apply with sigma_x (orthogonal distance "
                         "regression); use method='lm' or 'auto'")
    if backend == "numpy":
        return "lm", "numpy", "numpy: backend='numpy' was asked for"
    return "lm", "numpy", (f"numpy: backend={backend!r}, but the compiled kernel has no "
                           "orthogonal distance regression; with sigma_x each curve is fitted "
                           "by trustfit.odr")


def prepare_sigma_x(sigma_x, k: int, N: int, m: int) -> np.ndarray:
    """``sigma_x`` as (1 or N, k, m): a scalar, ``(m,)`` (k = 1) or ``(k,)`` (k > 1),
    ``(k, m)``, or per curve ``(N, m)`` (k = 1) / ``(N, k, m)``; finite values must be > 0
    (NaN in a per-curve row marks that curve as not fitted)."""
    from ._inputs import real_array

    s = real_array("sigma_x", sigma_x).astype(float, copy=False)
    if s.ndim == 0:
        out = np.full((1, k, m), float(s))
    elif k == 1 and s.shape == (m,):
        out = s.reshape(1, 1, m)
    elif k > 1 and s.shape == (k,):
        out = np.repeat(s.reshape(1, k, 1), m, axis=2)
    elif s.shape == (k, m):
        out = s.reshape(1, k, m)
    elif k == 1 and s.shape == (N, m):
        out = s.reshape(N, 1, m)
    elif s.shape == (N, k, m):
        out = s
    else:
        shapes = "(), (m,), (N, m)" if k == 1 else "(), (k,), (k, m), (N, k, m)"
        raise ValueError(f"sigma_x: shape {s.shape}; sigma_x must have one of the shapes "
                         f"{shapes} with N={N} curves, k={k} independent variables and m={m} "
                         "points")
    with np.errstate(invalid="ignore"):
        bad = np.isfinite(out) & ~(out > 0)
    if bad.any() or np.isinf(out).any():
        raise ValueError("sigma_x must be positive and finite (a standard deviation of x); "
                         "for x known exactly fit without sigma_x")
    if out.shape[0] == 1 and not np.isfinite(out).all():
        raise ValueError("sigma_x must be finite when it is shared by all curves; mark a "
                         "single curve as invalid with NaN in its own row instead")
    return out


def _callables(bm: BatchModel):
    """``f(x, *p)``, ``jac(x, *p)`` (m, n) and ``jac_x(x, *p)`` ((m,) or (k, m)) for
    :func:`trustfit.odr`, ``x`` as odr passes it ((m,) or (k, m)); exact derivatives for a
    symbolic model (its guarded expressions, :mod:`trustfit.models._edges`), the model's own
    ``jac`` (or differences: None) for a callable."""
    if not bm.symbolic:
        return bm.func, bm.jac_func, None
    import sympy

    from trustfit.models._edges import edge_safe_diff

    args = list(bm.independent_symbols) + list(bm.param_symbols)
    k = bm.n_independent
    fm = sympy.lambdify(args, bm.expr, ["scipy", "numpy"])
    dp = sympy.lambdify(args, [edge_safe_diff(bm.expr, p) for p in bm.param_symbols],
                        ["scipy", "numpy"])
    dx = sympy.lambdify(args, [sympy.diff(bm.expr, s) for s in bm.independent_symbols],
                        ["scipy", "numpy"])

    def rows(x):
        return [x] if k == 1 else list(x)

    def f(x, *p):
        return np.broadcast_to(np.asarray(fm(*rows(x), *p), dtype=float), np.shape(x)[-1:])

    def jac(x, *p):
        m = np.shape(x)[-1]
        return np.stack([np.broadcast_to(np.asarray(c, dtype=float), (m,))
                         for c in dp(*rows(x), *p)], axis=1)

    def jac_x(x, *p):
        m = np.shape(x)[-1]
        out = np.stack([np.broadcast_to(np.asarray(c, dtype=float), (m,))
                        for c in dx(*rows(x), *p)])
        return out[0] if k == 1 else out

    return f, jac, jac_x


def _verdict(fit) -> tuple[float, float, float]:
    """``(share, condition, rcond)`` from the column-scaled reduced Jacobian and residual."""
    J, r = np.asarray(fit.jac, dtype=float), np.asarray(fit.fun, dtype=float)
    with np.errstate(all="ignore"):
        norms = np.linalg.norm(J, axis=0)
        if not (np.all(np.isfinite(J)) and np.all(np.isfinite(r)) and np.all(norms > 0)):
            return np.nan, np.inf, 0.0
        U, s, _ = np.linalg.svd(J / norms, full_matrices=False)
        rn = np.linalg.norm(r)
        share = float(np.linalg.norm(U.T @ r) / rn) if rn > 0 else 0.0
        condition = float(s[0] / s[-1]) if s[-1] > 0 else np.inf
    return share, condition, (1.0 / condition**2 if condition < np.inf else 0.0)


def fit_odr_batch(bm: BatchModel, X, Y, W, SX, P0, LB, UB, bounded: bool, *, absolute_sigma,
                  maxiter, gtol, xtol, ftol, tau, rescue, backend_reason) -> OdrBatchResult:
    """Fit every row of ``Y`` by :func:`trustfit.odr` (module docstring). ``X`` (1 or N, k,
    m), ``W = 1/sigma`` (1 or N, m), ``SX`` (1 or N, k, m), ``P0`` (1 or N, n)."""
    import time

    from ..faces.odr import odr

    N, m = Y.shape
    k, n = X.shape[1], bm.n_params
    res = alloc(N, n)
    res["params"][:] = np.nan
    res["cost"][:] = np.nan
    res["stderr"][:] = np.nan
    res["nit"][:] = 0
    for key in ("rcond", "gn_gain", "share", "condition"):
        res[key][:] = np.nan
    res["rescued"][:] = False
    delta = np.full((N, k, m), np.nan)
    f, jac, jac_x = _callables(bm)
    use_jac = jac if not bounded else None
    use_jac_x = jac_x if not bounded and jac is not None else None
    t0 = time.perf_counter()
    for i in range(N):
        xi = X[0 if X.shape[0] == 1 else i]
        wi = W[0 if W.shape[0] == 1 else i]
        si = SX[0 if SX.shape[0] == 1 else i]
        pi = P0[0 if P0.shape[0] == 1 else i]
        finite = (np.isfinite(Y[i]).all() and np.isfinite(xi).all() and np.isfinite(wi).all()
                  and np.isfinite(si).all())
        if not finite:
            res["stop_code"][i] = 5
            continue
        if not np.isfinite(pi).all():
            res["stop_code"][i] = 8
            continue
        try:
            fit = odr(f, xi[0] if k == 1 else xi, Y[i], pi, 1.0 / wi, si[0] if k == 1 else si,
                      absolute_sigma, jac=use_jac, jac_x=use_jac_x, ftol=ftol or None,
                      xtol=xtol or None, gtol=gtol or None, max_iter=maxiter, tau=tau,
                      rescue=rescue, param_names=tuple(bm.param_names),
                      bounds=(LB, UB) if bounded else None)
        except ValueError as exc:  # the model is not finite at this curve's start
            if "p0" not in str(exc):  # anything else is the caller's to see
                raise
            res["stop_code"][i] = 6
            continue
        code = _CODE.get(fit.stop_reason, 7)
        if not fit.success and code in (1, 2, 3):  # never a success the fit did not certify
            code = 9
        res["params"][i] = fit.x
        res["cost"][i] = fit.cost
        res["nit"][i] = fit.nit
        res["stop_code"][i] = code
        res["stderr"][i] = fit.stderr
        share, condition, rcond = _verdict(fit)
        res["share"][i], res["condition"][i], res["rcond"][i] = share, condition, rcond
        res["gn_gain"][i] = share * share
        delta[i] = np.reshape(np.asarray(fit.delta, dtype=float), (k, m))
    res["diagnosis_code"][:] = DIAGNOSIS_OF_CODE[res["stop_code"]]
    code = res["stop_code"]
    success = (code >= 1) & (code <= 3)
    x_full = np.broadcast_to(X, (N, k, m))
    shape = (N, m) if k == 1 else (N, k, m)
    return OdrBatchResult(
        param_names=list(bm.param_names), success=success, backend="numpy", method="lm",
        backend_reason=backend_reason, timings={"fit_s": time.perf_counter() - t0},
        delta=delta.reshape(shape), x_adjusted=(x_full + delta).reshape(shape), **res)
