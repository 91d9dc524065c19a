"""Variable scaling: the diagonal ``D`` that makes one unit of step mean the same in every
direction.

The solvers work in scaled variables ``z = D x``, i.e. with the Jacobian ``J D^{-1}``. Two
choices, SciPy's ``x_scale`` argument:

* numbers: ``D = 1 / x_scale`` (the characteristic size of each variable), fixed;
* ``'jac'``: Moré's rule (Moré 1978, "The Levenberg-Marquardt algorithm: implementation and
  theory"; MINPACK ``lmder`` with ``mode=1``, SciPy's ``compute_jac_scale``):
  ``D_j = ||J_0[:, j]||`` at the start (1 for a zero column), then ``D_j = max(D_j,
  ||J[:, j]||)``, which makes the damping invariant to a rescaling of the parameters.
"""
from __future__ import annotations

import math

import numpy as np

from .linalg import column_norms
from .problem import Problem
from .sparse_linalg import is_large, times_power_of_two


class Scaling:
    def __init__(self, x_scale: str | np.ndarray, n: int):
        self.adaptive = isinstance(x_scale, str)
        self.D = np.ones(n) if self.adaptive else 1.0 / np.broadcast_to(x_scale, (n,)).astype(float)
        self._first = True

    def update(self, J: np.ndarray, norms: np.ndarray | None = None) -> np.ndarray:
        """Scaling vector to use with Jacobian ``J`` (unchanged unless adaptive); ``norms``:
        its column norms when the caller has them."""
        if self.adaptive:
            norms = column_norms(J) if norms is None else norms
            norms = np.where(np.isfinite(norms), norms, 0.0)
            if self._first:  # Moré's rule: a column zero at the start gets 1, then grows
                self._first = False
                self.D = np.where(norms > 0.0, norms, 1.0)
            else:
                self.D = np.maximum(self.D, norms)
        return self.D


class ResidualScale:
    """The residuals as the solver sees them: divided by ``2^e``, the power of two with
    ``max |f(x0)| / 2^e`` in ``[1/2, 1)``.

    Every test in :mod:`trustfit.core.stopping` is a ratio and does not care; what this buys is
    range. Data of size 1e-160 give costs that underflow to 0 (and would count as an exact
    fit), data of size 1e150 squared sums that overflow; divided by a power of two, the solver
    works with residuals of order one, and the arithmetic is exactly that of the unscaled
    problem (multiplying by a power of two is exact in binary floating point), so the answer
    at a scale that did not under- or overflow is unchanged to the last bit. The result is
    scaled back (:meth:`up`, :meth:`up2`) before anyone sees it.
    """

    def __init__(self, f0: np.ndarray):
        top = float(np.max(np.abs(f0), initial=0.0))
        self.exponent = math.frexp(top)[1] if top > 0.0 and math.isfinite(top) else 0

    def down(self, v):
        """Residual-like quantity (residuals, Jacobian) into the solver's units."""
        if type(v) is not np.ndarray and is_large(v):
            return times_power_of_two(v, -self.exponent)
        return np.ldexp(v, -self.exponent)

    def up(self, v):
        """Residual-like quantity back into the user's units."""
        if type(v) is not np.ndarray and is_large(v):
            return times_power_of_two(v, self.exponent)
        return np.ldexp(v, self.exponent)

    def up2(self, v):
        """Quadratic quantity (cost, gradient, damping) back into the user's units."""
        if isinstance(v, float) and not math.isfinite(v):
            return v
        return np.ldexp(v, 2 * self.exponent)


class ScaledProblem:
    """A :class:`~trustfit.core.problem.Problem` seen through a :class:`ResidualScale`: residuals
    and Jacobians come out divided by ``2^e``; everything else (bounds, counters, flags) is
    the problem's own."""

    def __init__(self, problem, scale: ResidualScale):
        self._problem = problem
        self._scale = scale
        # read on every iteration: plain attributes, not a __getattr__ miss each time
        self.lb, self.ub = problem.lb, problem.ub

    @property
    def nfev(self) -> int:
        return self._problem.nfev

    def residuals(self, x: np.ndarray) -> np.ndarray:
        return self._scale.down(self._problem.residuals(x))

    def jacobian(self, x: np.ndarray, f: np.ndarray, refined: bool = False,
                 out: np.ndarray | None = None) -> np.ndarray:
        """``out``: an earlier Jacobian of this problem's own finite differences that may be
        overwritten (:meth:`trustfit.core.problem.Problem.jacobian`); ignored where the
        Jacobian comes from anywhere else (a wrapper, workers, the user's ``jac``)."""
        # Finite differences need the user's residuals at x: scaling back is exact (and at
        # exponent 0 no copy is needed).
        plain = getattr(getattr(self._problem, "jacobian", None), "__func__", None) is Problem.jacobian
        f_user = self._scale.up(f) if self._scale.exponent else f
        J = (self._problem.jacobian(x, f_user, refined, out=out) if plain and out is not None
             else self._problem.jacobian(x, f_user, refined))
        if (isinstance(J, np.ndarray)
                and isinstance(getattr(self._problem, "_jac", None), str)):
            # differences trustfit computed itself: scaled in place, exactly (a power of two),
            # without a second m x n array (and not touched at all at exponent 0)
            return np.ldexp(J, -self._scale.exponent, out=J) if self._scale.exponent else J
        return self._scale.down(J)

    def __getattr__(self, name: str):
        return getattr(self._problem, name)
