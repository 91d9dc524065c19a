"""SciPy's ``curve_fit`` conventions that are not about the solver (SciPy 1.17,
``scipy.optimize.curve_fit``; read there, written here): the data checks of ``check_finite``
and ``nan_policy``, the feasible start when ``p0`` is None, ``sigma`` as a scalar, the
``infodict`` of ``full_output`` and the covariance's Jacobian under a robust loss."""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.linalg

from ..core.loss import make_loss


def check_data(xdata: Any, ydata: np.ndarray, x_is_array: bool, nan_policy: Any,
               check_finite: bool | None):
    """SciPy's order: ``check_finite`` (default: True unless ``nan_policy`` is given) refuses
    inf and NaN in ``xdata`` and ``ydata``; otherwise ``nan_policy='raise'`` refuses NaN and
    ``'omit'`` drops every point with a NaN in ``ydata`` or in its ``xdata`` column.
    Returns ``xdata, ydata, keep`` (``keep``: the mask of kept points, or None)."""
    if nan_policy == "propagate":
        raise ValueError("`nan_policy='propagate'` is not supported by this function. "
                         "Use None (no check), 'raise' or 'omit'.")
    if nan_policy not in (None, "raise", "omit"):
        raise ValueError(f"nan_policy must be one of {{None, 'raise', 'omit'}}; got "
                         f"{nan_policy!r}.")
    if check_finite is None:
        check_finite = nan_policy is None
    if check_finite:
        bad = [name for name, a, given in (("ydata", ydata, True), ("xdata", xdata, x_is_array))
               if given and not np.all(np.isfinite(a))]
        if bad:
            raise ValueError(f"array must not contain infs or NaNs: {' and '.join(bad)} "
                             "must be finite (use nan_policy='omit' to drop NaN points, "
                             "or check_finite=False).")
        return xdata, ydata, None
    if nan_policy is None:
        return xdata, ydata, None
    has_nan = np.isnan(ydata)
    if x_is_array and xdata.ndim >= 1 and xdata.shape[-1] == ydata.size:
        has_nan = has_nan | np.any(np.isnan(xdata.reshape(-1, ydata.size)), axis=0)
    elif x_is_array:
        has_nan = has_nan | bool(np.any(np.isnan(xdata)))
    if not has_nan.any():
        return xdata, ydata, None
    if nan_policy == "raise":
        raise ValueError("The input contains nan values (nan_policy='raise'); use "
                         "nan_policy='omit' to drop those points.")
    if x_is_array and xdata.ndim >= 1 and xdata.shape[-1] == ydata.size:
        xdata = xdata[..., ~has_nan]
    return xdata, ydata[~has_nan], ~has_nan


def omit_sigma(sigma: Any, keep: np.ndarray | None) -> Any:
    """``sigma`` for the points ``nan_policy='omit'`` kept (rows and columns when 2-D)."""
    if sigma is None or keep is None:
        return sigma
    s = np.asarray(sigma)
    if s.ndim == 1 and s.size == keep.size:
        return s[keep]
    if s.ndim == 2 and s.shape == (keep.size, keep.size):
        return s[np.ix_(keep, keep)]
    return sigma


def scalar_sigma(sigma: Any, m: int) -> Any:
    """A scalar (or one-element) ``sigma`` is every point's error, as in SciPy."""
    if sigma is not None and np.size(sigma) == 1 and m != 1:
        return np.full(m, np.asarray(sigma).ravel()[0])
    return sigma


def parameter_count(f: Callable) -> int:
    """The number of parameters of ``f(x, p1, ..., pn)`` (SciPy: the positional arguments
    after the first); ``f(x, *p)`` needs ``p0``."""
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        params = []
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        params = []
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2:
        raise ValueError("Unable to determine number of fit parameters. p0 is needed when f "
                         "takes its parameters as *args (the number of parameters cannot be "
                         "read from its signature).")
    return len(positional) - 1


def feasible_start(bounds: Any, n: int) -> np.ndarray:
    """SciPy's start when ``p0`` is None: 1 where unbounded, the midpoint of two finite
    bounds, one unit inside a single finite bound."""
    if hasattr(bounds, "lb") and hasattr(bounds, "ub"):
        bounds = (bounds.lb, bounds.ub)
    try:
        lb, ub = (np.broadcast_to(np.asarray(b, dtype=float), (n,)) for b in bounds)
    except (TypeError, ValueError):
        return np.ones(n)  # least_squares reports the bad bounds
    p0 = np.ones(n)
    lo, hi = np.isfinite(lb), np.isfinite(ub)
    both = lo & hi
    p0[both] = 0.5 * (lb[both] + ub[both])
    p0[lo & ~hi] = lb[lo & ~hi] + 1.0
    p0[~lo & hi] = ub[~lo & hi] - 1.0
    return p0


def infodict(result, fvec: np.ndarray) -> dict:
    """``full_output``'s ``infodict`` with ``leastsq``'s keys: ``nfev``, ``fvec`` (the
    weighted residuals), and from the QR factorization with column pivoting of the final
    Jacobian, ``J P = Q R``: ``fjac`` ((n, m); ``triu(fjac.T[:n])`` is ``R``, the rest zero
    where MINPACK keeps its Householder vectors), ``ipvt`` (the 0-based permutation, as SciPy
    1.17 returns it) and ``qtf`` (the first n entries of ``Q^T fvec``). Also ``result``,
    the full :class:`trustfit.FitResult`."""
    J = np.asarray(result.jac, dtype=float)
    m, n = J.shape
    info = {"nfev": result.nfev, "fvec": fvec, "result": result}
    if np.all(np.isfinite(J)) and np.all(np.isfinite(fvec)):
        Q, R, perm = scipy.linalg.qr(J, mode="economic", pivoting=True)
        k = R.shape[0]
        fjac = np.zeros((n, m))
        fjac[:, :k] = R.T
        info.update(fjac=fjac, ipvt=perm.astype(np.int32), qtf=(Q.T @ fvec)[:n])
    else:
        info.update(fjac=np.full((n, m), np.nan), ipvt=np.arange(n, dtype=np.int32),
                    qtf=np.full(min(m, n), np.nan))
    return info


def robust_loss(kwargs: dict):
    """The :class:`~trustfit.core.loss.Loss` that ``kwargs`` ask for (None: least squares)."""
    return make_loss(kwargs.get("loss", "linear"), kwargs.get("f_scale", 1.0))


def curvature_jacobian(loss, raw_residuals: np.ndarray, robust_jacobian: np.ndarray
                       ) -> np.ndarray:
    """SciPy's Jacobian for the covariance under a robust loss: the user's Jacobian ``J``
    with rows weighted by ``sqrt(max(rho' + 2 rho'' z, eps))`` (Triggs et al. 2000, sec.
    4.3), so that ``J_T^T J_T`` is the Gauss-Newton Hessian of the robust cost. ``J`` is
    recovered from the robust one (``w J``, :mod:`trustfit.core.loss`) row by row."""
    _, w = loss.residuals_and_weights(raw_residuals)
    with np.errstate(all="ignore"):
        J = robust_jacobian / np.where(w > 0, w, np.nan)[:, None]
    J = np.where(np.isfinite(J), J, 0.0)  # a row of zero weight carries no curvature
    return loss.curvature_weights(raw_residuals)[:, None] * J
