"""Finite-difference and complex-step Jacobians with relative steps that respect bounds.

Steps are *relative*: ``h_j = s * |x_j|`` (``s`` when ``x_j = 0``). SciPy's default step
``s * max(1, |x_j|)`` has an absolute floor of about 1.5e-8, larger than NIST Hahn1's
parameters (about 1e-7 to 1e-9), so its differences there measure the wrong thing.

* ``'2-point'``: forward difference, ``s = sqrt(eps)``, error O(h);
* ``'3-point'``: central difference, ``s = eps**(1/3)``, error O(h^2);
* ``'5-point'`` (used by the polish, not a user option): the fourth-order central formula
  ``(f(x-2h) - 8 f(x-h) + 8 f(x+h) - f(x+2h)) / 12h``, ``s = eps**(1/5)``, error about
  ``eps**(4/5)``, so the final Jacobian (and the covariance computed from it) keeps about 12
  digits; where a bound leaves no room it falls back to the three-point formulas;
* ``'cs'``: complex step (Squire & Trapp 1998), ``J_j = Im f(x + i h e_j) / h`` with no
  subtractive cancellation, so ``h = 1e-20 * max(1, |x_j|)`` gives J to machine precision. It
  needs a ``fun`` that propagates complex numbers.

Near a bound the difference is taken on the feasible side (a backward or one-sided
three-point formula), so the model is never evaluated outside the box. The step actually used
is ``(x + h) - x``, which is exactly representable, to avoid a rounding error in the divisor.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .linalg import LARGE

EPS = np.finfo(float).eps
DEFAULT_RELATIVE_STEP = {"2-point": EPS**0.5, "3-point": EPS ** (1 / 3), "5-point": EPS**0.2,
                         "cs": 1e-20}
METHODS = ("2-point", "3-point", "cs")  # what users may ask for


def _steps(x: np.ndarray, rel: np.ndarray) -> np.ndarray:
    h = rel * np.where(x != 0.0, np.abs(x), 1.0)
    return ((x + h) - x)  # representable step


def finite_difference_jacobian(
    fun: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    f0: np.ndarray,
    method: str,
    lb: np.ndarray,
    ub: np.ndarray,
    relative_step: np.ndarray | None = None,
    out: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Jacobian of ``fun`` at ``x`` (with ``f0 = fun(x)``); returns ``(J, evaluations)``.
    ``out``: an array this function made before (same shape and layout), overwritten with
    the new Jacobian instead of allocating one (the driver's previous Jacobian, which it no
    longer reads); any other array is ignored.

    Columns whose difference comes out non-finite on one side are retried on the other side.
    """
    n, m = x.size, f0.size
    rel = DEFAULT_RELATIVE_STEP[method] if relative_step is None else relative_step
    rel = np.asarray(rel, dtype=float)
    if rel.ndim:  # a scalar step broadcasts in the products below, without a copy
        rel = np.broadcast_to(rel, (n,))
    # A large J is laid out by columns (LAPACK's order, so its factorization copies nothing)
    # and each difference is formed in place in its own column. A small one keeps NumPy's
    # row order and one contiguous column buffer, reused: differences are formed in it (fast,
    # unlike J's strided columns) and copied once into J. No m-sized temporary per column.
    by_columns = m * n > LARGE
    reusable = (out is not None and out.shape == (m, n) and out.dtype == float
                and (out.flags.f_contiguous if by_columns else out.flags.c_contiguous))
    J: np.ndarray = (out if reusable and out is not None
                     else np.empty((m, n), order="F" if by_columns else "C"))
    evaluations = 0
    if method == "cs":
        h = rel * np.maximum(1.0, np.abs(x))
        for j in range(n):
            xc = x.astype(complex)
            xc[j] += 1j * h[j]
            fc = np.asarray(fun(xc))
            evaluations += 1
            if not np.iscomplexobj(fc):
                raise ValueError(
                    "jac='cs' needs a fun that propagates complex numbers, but fun returned "
                    f"{fc.dtype} values for a complex x; use jac='2-point' or '3-point' instead.")
            J[:, j] = fc.imag.reshape(m) / h[j]
        return J, evaluations

    h = _steps(x, rel)
    room_up, room_down = ub - x, x - lb
    buffer = None if by_columns else np.empty(m)
    if method == "2-point":  # the per-column scalars as Python floats: the same numbers
        x_list, h_list, lb_list, ub_list = x.tolist(), h.tolist(), lb.tolist(), ub.tolist()
        up_list, down_list = room_up.tolist(), room_down.tolist()
    for j in range(n):
        hj = h[j]
        if method == "2-point":
            hj, xj = h_list[j], x_list[j]
            # Forward unless the upper bound is in the way and there is more room below.
            sign = 1.0 if (hj <= up_list[j] or down_list[j] < up_list[j]) else -1.0
            col = J[:, j] if buffer is None else buffer
            col[:] = 0.0
            for attempt in (sign, -sign):
                moved = min(max(xj + attempt * hj, lb_list[j]), ub_list[j])
                if moved == xj:
                    continue
                xs = x.copy()
                xs[j] = moved
                dx = moved - xj
                np.subtract(np.asarray(fun(xs)).reshape(m), f0, out=col)
                col /= dx
                evaluations += 1
                # the sum of finite numbers may overflow; only then is each one looked at
                if math.isfinite(col.sum()) or np.isfinite(col).all():
                    break
            if buffer is not None:
                J[:, j] = col
        elif method == "5-point" and 2 * hj <= room_up[j] and 2 * hj <= room_down[j]:
            col = np.zeros(m)
            for k, weight in ((-2, 1.0), (-1, -8.0), (1, 8.0), (2, -1.0)):
                xs = x.copy()
                xs[j] += k * hj
                col += weight * np.asarray(fun(xs)).reshape(m)
            np.divide(col, 12.0 * hj, out=J[:, j])
            evaluations += 4
        else:  # 3-point, or 5-point without room
            if method == "5-point":
                hj = _steps(x[j:j + 1], np.array([DEFAULT_RELATIVE_STEP["3-point"]]))[0]
            if hj <= room_up[j] and hj <= room_down[j]:
                xp, xm = x.copy(), x.copy()
                xp[j] += hj
                xm[j] -= hj
                col = J[:, j] if buffer is None else buffer
                np.subtract(np.asarray(fun(xp)).reshape(m), np.asarray(fun(xm)).reshape(m),
                            out=col)
                col /= xp[j] - xm[j]
                if buffer is not None:
                    J[:, j] = col
                evaluations += 2
            else:
                # One-sided second-order formula on the side with room.
                side = 1.0 if room_up[j] >= room_down[j] else -1.0
                step = side * min(hj, max(room_up[j], room_down[j]) / 2.0)
                x1, x2 = x.copy(), x.copy()
                x1[j] += step
                x2[j] += 2.0 * step
                f1 = np.asarray(fun(x1)).reshape(m)
                f2 = np.asarray(fun(x2)).reshape(m)
                J[:, j] = (-3.0 * f0 + 4.0 * f1 - f2) / (2.0 * step) if step != 0 else 0.0
                evaluations += 2
    return J, evaluations
