"""Levenberg-Marquardt steps by LSMR with damping, for sparse and operator Jacobians.

The step of :mod:`trustfit.steps.damped` solves ``min ||J h + r||^2 + mu ||D h||^2``; in the
scaled variables ``z = D h`` that is the damped least-squares problem
``min ||A z + r||^2 + mu ||z||^2`` with ``A = J D^{-1}`` (free columns), which LSMR (Fong &
Saunders 2011, "LSMR: an iterative algorithm for sparse least-squares problems", SIAM J. Sci.
Comput. 33) solves with ``damp = sqrt(mu)`` from products with ``A`` and ``A^T`` only: nothing
of size ``m x n`` is formed, and ``J^T J`` never is. The damping rules, the initial damping
``mu_0 = tau max_j ||A_j||^2`` and the gain-ratio test are those of the dense method; the
predicted reduction is the Gauss-Newton model's for the step actually taken, so an inexact
LSMR solution is judged by what it promises, not by what an exact one would have.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.sparse.linalg import lsmr

from ..core.linalg import column_norms
from ..core.sparse_linalg import product_operator, scale_columns, select_columns
from .base import GaussNewtonModel, Iterate, Step
from .damped import LevenbergMarquardt


def scaled_free_jacobian(it: Iterate):
    """``J D^{-1}`` over the free variables, of the kind ``J`` is (sparse stays sparse)."""
    return scale_columns(select_columns(it.J, it.free), 1.0 / it.D[it.free])


class IterativeOperator:
    """The scaled free Jacobian of the latest iterate, built once per iterate."""

    def __init__(self) -> None:
        self._it: Iterate | None = None
        self._A = None

    def __call__(self, it: Iterate):
        if self._it is not it:
            self._it, self._A = it, product_operator(scaled_free_jacobian(it))
        return self._A


#: LSMR's default tolerance (SciPy's ``atol = btol = 1e-6``), the forcing factor and the
#: floor of the forced tolerance (:func:`forced_options`).
LSMR_TOLERANCE, FORCING, FORCING_FLOOR = 1e-6, 0.1, 1e-14


def forced_options(options: dict, A, r: np.ndarray, g: np.ndarray, Ag_norm: float) -> dict:
    """LSMR's ``atol``/``btol`` for this step: ``min(1e-6, FORCING * c)`` with
    ``c = ||A^T r|| / (||A|| ||r||)``, the quantity LSMR's own ``atol`` test measures, at the
    start (``||A||`` estimated from below by ``||A g|| / ||g||``; floor ``FORCING_FLOOR``).

    An inexact Newton method's forcing term (Dembo, Eisenstat & Steihaug 1982, "Inexact
    Newton methods"): with a residual that stays large at the solution, ``c`` is already
    below a fixed ``1e-6`` near the minimum, LSMR stops at its first iterates, and the steps
    creep (relative gains of 1e-16 per iteration on a bundle adjustment). Tied to ``c``, the
    subproblem is solved to a tenth of the current stationarity, so the outer iteration keeps
    converging until the rounding test stops it. ``c`` is a cosine: free of the units of the
    data and of the parameters. A tolerance the caller set in ``tr_options`` is kept."""
    if "atol" in options or "btol" in options:
        return options
    g_norm, r_norm = float(np.linalg.norm(g)), float(np.linalg.norm(r))
    if not (g_norm > 0.0 and r_norm > 0.0 and Ag_norm > 0.0):
        return options
    cosine = g_norm / ((Ag_norm / g_norm) * r_norm)
    tol = min(LSMR_TOLERANCE, max(FORCING_FLOOR, FORCING * cosine))
    return {**options, "atol": tol, "btol": tol}


def solve_damped(A, r: np.ndarray, damp: float, options: dict) -> np.ndarray:
    """LSMR's solution of ``min ||A z + r||^2 + damp^2 ||z||^2`` (NaN where it is not finite:
    the loop then stops with no progress)."""
    with np.errstate(all="ignore"):
        z = lsmr(A, -r, damp=damp, **options)[0]
    return z if np.all(np.isfinite(z)) else np.full(A.shape[1], np.nan)


class DampedLSMR(LevenbergMarquardt):
    """Levenberg-Marquardt with the damped subproblem solved by LSMR (``options``: LSMR's
    ``atol, btol, conlim, maxiter``)."""

    name = "lm"

    def __init__(self, tau: float = 1e-3, damping: str = "nielsen",
                 options: dict | None = None):
        super().__init__(tau, damping)
        self.options = dict(options or {})
        self._operator = IterativeOperator()

    def start(self, it: Iterate) -> None:
        norms = column_norms(self._operator(it))
        diag_max = float(np.max(norms**2, initial=0.0))
        self._mu = self.tau * diag_max if diag_max > 0.0 and math.isfinite(diag_max) else self.tau
        self._nu = 2.0

    def propose(self, it: Iterate, problem) -> Step:
        A = self._operator(it)
        g = np.asarray(A.T @ it.f).ravel()
        options = forced_options(self.options, A, it.f, g,
                                 float(np.linalg.norm(np.asarray(A @ g).ravel())))
        z = solve_damped(A, it.f, math.sqrt(self._mu), options)
        return Step(it.unscale(z), "LM", GaussNewtonModel(it.g, it.J))
