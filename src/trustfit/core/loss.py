"""Robust losses (SciPy's ``loss`` and ``f_scale``) as a plain least-squares problem.

The robust cost of residuals ``f`` (SciPy's convention, ``scipy.optimize.least_squares``) is

    ``F(x) = 1/2 sum_i C^2 rho(f_i(x)^2 / C^2)``,  ``C = f_scale``,

with ``rho`` one of (``z = f^2 / C^2``)

* ``'linear'``:  ``rho(z) = z`` (ordinary least squares),
* ``'soft_l1'``: ``rho(z) = 2 (sqrt(1 + z) - 1)``, computed as ``2 z / (sqrt(1 + z) + 1)``
  (no cancellation for small ``z``),
* ``'huber'``:   ``rho(z) = z`` for ``z <= 1``, ``2 sqrt(z) - 1`` above,
* ``'cauchy'``:  ``rho(z) = log(1 + z)``,
* ``'arctan'``:  ``rho(z) = arctan(z)``,

or a callable ``rho(z) -> (3, m)`` array of ``rho, rho', rho''`` (SciPy's signature). Every
``rho`` has ``rho(0) = 0``, ``rho'(0) = 1`` and increases, so near zero it is least squares.

**The square-root form.** trustfit solves ``min 1/2 ||r(x)||^2`` with the *robust residuals*

    ``r_i = C sign(f_i) sqrt(rho(z_i))``,  so that  ``1/2 ||r||^2 = F`` exactly,

and their exact Jacobian, row by row the user's Jacobian times a weight:

    ``dr_i/dx = w_i J_i``,  ``w_i = rho'(z_i) sqrt(z_i / rho(z_i))``  (``w_i -> rho'(0) = 1``
    as ``f_i -> 0``),

so ``J_r^T r = J^T (rho'(z) f)`` is the gradient of ``F``. This is a genuine least-squares
problem with SciPy's cost, gradient and minima; every step strategy, globalization, stopping
test, the certificate, the diagnosis and the covariance work on it unchanged, and the cost
they see is the one SciPy reports. Triggs, McLauchlan, Hartley & Fitzgibbon, "Bundle
adjustment -- a modern synthesis" (2000), sec. 4.3, derive the robust Gauss-Newton model;
SciPy (``_lsq/common.py``, ``scale_for_robust_loss_function``) uses their weighting
``J_T = sqrt(max(rho' + 2 rho'' z, eps)) J`` with residuals ``rho' f / sqrt(...)``, whose half
squared norm is *not* the cost, so SciPy evaluates the cost separately in its loop. The
square-root form keeps trustfit's one invariant (cost = half the squared residual norm) and
differs from SciPy's model only in the curvature it gives the outliers (``w^2`` instead of
``rho' + 2 rho'' z``); the minimum is the same. The Triggs weight is kept for the covariance
SciPy states under a robust loss (:meth:`Loss.curvature_weights`).
"""
from __future__ import annotations

import math
import numbers
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from .problem import NonFiniteStart
from .sparse_linalg import scale_rows

EPS = float(np.finfo(float).eps)


def _huber(z: np.ndarray) -> np.ndarray:
    rho = np.empty((3, z.size))
    inside = z <= 1.0
    root = np.sqrt(np.where(inside, 1.0, z))
    rho[0] = np.where(inside, z, 2.0 * root - 1.0)
    rho[1] = np.where(inside, 1.0, 1.0 / root)
    rho[2] = np.where(inside, 0.0, -0.5 / (root * root * root))
    return rho


def _soft_l1(z: np.ndarray) -> np.ndarray:
    t = 1.0 + z
    root = np.sqrt(t)
    return np.array([2.0 * z / (root + 1.0), 1.0 / root, -0.5 / (t * root)])


def _cauchy(z: np.ndarray) -> np.ndarray:
    t = 1.0 + z
    return np.array([np.log1p(z), 1.0 / t, -1.0 / (t * t)])


def _arctan(z: np.ndarray) -> np.ndarray:
    t = 1.0 + z * z
    return np.array([np.arctan(z), 1.0 / t, -2.0 * z / (t * t)])


#: SciPy's loss names (``None``: plain least squares, no transformation).
LOSSES: dict[str, Callable[[np.ndarray], np.ndarray] | None] = {
    "linear": None, "soft_l1": _soft_l1, "huber": _huber, "cauchy": _cauchy,
    "arctan": _arctan}


class Loss:
    """``rho`` with ``f_scale = C``: the robust residuals and their Jacobian weights."""

    def __init__(self, rho: Callable[[np.ndarray], Any], f_scale: float, name: str):
        self._rho = rho
        self.f_scale = float(f_scale)
        self.name = name

    def derivatives(self, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``z = (f / C)^2`` and the (3, m) array ``rho(z), rho'(z), rho''(z)``; a callable
        returning any other shape is a ValueError (SciPy's message first)."""
        z = (f / self.f_scale) ** 2
        rho = np.asarray(self._rho(z), dtype=float)
        if rho.shape != (3, f.size):
            raise ValueError(f"The return value of `loss` callable has wrong shape. loss(z) "
                             f"must return rho, rho' and rho'' as a (3, m) = (3, {f.size}) "
                             f"array, got shape {rho.shape}.")
        return z, rho

    def cost(self, f: np.ndarray) -> float:
        """SciPy's cost ``1/2 sum C^2 rho(f^2 / C^2)``."""
        return 0.5 * self.f_scale ** 2 * float(np.sum(self.derivatives(f)[1][0]))

    def residuals_and_weights(self, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Robust residuals ``r = C sign(f) sqrt(rho(z))`` and the row weights
        ``w = rho'(z) sqrt(z / rho(z))`` of their Jacobian (``rho'(z)`` where ``rho = 0``)."""
        with np.errstate(all="ignore"):
            z, rho = self.derivatives(f)
            value = np.maximum(rho[0], 0.0)
            r = self.f_scale * np.sign(f) * np.sqrt(value)
            w = np.where(value > 0.0, rho[1] * np.sqrt(z / np.where(value > 0, value, 1.0)),
                         rho[1])
        return r, w

    def curvature_weights(self, f: np.ndarray) -> np.ndarray:
        """Triggs et al.'s (SciPy's) row weights ``sqrt(max(rho' + 2 rho'' z, eps))``: the
        Jacobian ``J_T`` whose ``J_T^T J_T`` SciPy uses as the Hessian of the robust cost
        (outliers whose loss is flat get curvature ``eps``)."""
        with np.errstate(all="ignore"):
            z, rho = self.derivatives(f)
            return np.sqrt(np.maximum(rho[1] + 2.0 * rho[2] * z, EPS))


def make_loss(loss: Any, f_scale: Any) -> Loss | None:
    """``loss`` and ``f_scale`` checked (SciPy's messages first); ``None`` for ``'linear'``."""
    if isinstance(f_scale, bool) or not isinstance(f_scale, numbers.Real) or not (
            math.isfinite(f_scale) and cast(float, f_scale) > 0):  # stubs: Real has no >
        raise ValueError(f"`f_scale` must be positive. f_scale is the soft margin C between "
                         f"inlier and outlier residuals, a finite number > 0; got {f_scale!r}.")
    if callable(loss):
        return Loss(loss, cast(float, f_scale), getattr(loss, "__name__", "callable"))
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"`loss` must be one of {LOSSES.keys()} or a callable. Got "
                         f"{loss!r}; a callable takes z = f**2 and returns rho, rho', rho''.")
    rho = LOSSES[loss]
    return None if rho is None else Loss(rho, cast(float, f_scale), loss)


class RobustProblem:
    """A :class:`~trustfit.core.problem.Problem` seen through a :class:`Loss`: residuals come
    out as the robust residuals ``r(f)``, Jacobians as ``w(f) J``; counters, bounds and flags
    are the problem's own.

    A Jacobian needs the user's residuals at its point (the weights, and forward differences);
    the last few are kept by point. Where a point's residuals are no longer kept, they are
    evaluated once more, counted with the finite-difference evaluations (``nfev_fd``) as the
    Jacobian's cost."""

    KEPT = 8

    def __init__(self, problem, loss: Loss):
        self._problem = problem
        self.loss = loss
        self._raw: OrderedDict[bytes, np.ndarray] = OrderedDict()

    def _keep(self, x: np.ndarray, f: np.ndarray) -> None:
        self._raw[np.asarray(x, dtype=float).tobytes()] = f
        while len(self._raw) > self.KEPT:
            self._raw.popitem(last=False)

    def _raw_residuals(self, x: np.ndarray) -> np.ndarray:
        f = self._raw.get(np.asarray(x, dtype=float).tobytes())
        if f is None:
            f = self._problem._checked_call(x)
            self._problem.nfev_fd += 1
            self._keep(x, f)
        return f

    def residuals(self, x: np.ndarray) -> np.ndarray:
        f = self._problem.residuals(x)
        self._keep(x, f)
        return self.loss.residuals_and_weights(f)[0]

    def jacobian(self, x: np.ndarray, r: np.ndarray, refined: bool = False,
                 out: np.ndarray | None = None) -> np.ndarray:
        """The Jacobian of the robust residuals; ``out`` is not used (the rows are rescaled)."""
        f = self._raw_residuals(x)
        J = self._problem.jacobian(x, f, refined)
        return scale_rows(J, self.loss.residuals_and_weights(f)[1])

    def start(self, x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The problem's start (its checks on the user's residuals), then robust."""
        f0, J0 = self._problem.start(x0)
        self._keep(x0, f0)
        r0, w0 = self.loss.residuals_and_weights(f0)
        if not (np.all(np.isfinite(r0)) and np.all(np.isfinite(w0))):
            bad = np.flatnonzero(~(np.isfinite(r0) & np.isfinite(w0)))[:10].tolist()
            raise NonFiniteStart(
                f"the loss {self.loss.name!r} is not finite at x0 (rho or rho' at residual "
                f"indices {bad}); a callable loss must return finite rho, rho', rho'' for "
                "every z >= 0.", f0)
        return r0, scale_rows(J0, w0)

    def __getattr__(self, name: str):
        return getattr(self._problem, name)
