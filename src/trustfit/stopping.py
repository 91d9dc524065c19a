"""Stopping tests: small pure functions that return the reason and the number behind it.

Each test returns ``(StopReason | None, measured_value)`` so the driver can report not only
*that* a test fired but the value that made it fire (Ceres ``ParameterToleranceReached``,
SciPy ``_lsq/common.check_termination``). The criteria are those of Madsen, Nielsen &
Tingleff (2004), eqs. (3.15):

* gradient:  ``||g||_inf <= gtol``             (g = J^T r, restricted to free variables)
* step:      ``||h||_2 <= xtol * (||x||_2 + xtol)``
* cost:      ``F(x) - F(x+h) <= ftol * F(x)`` with the model agreeing (rho > 1/4), as SciPy
* budgets:   evaluations and iterations.

A tolerance of ``None`` switches its test off.
"""
from __future__ import annotations

import math

from .result import StopReason

Outcome = tuple[StopReason | None, float]


def gradient_test(grad_norm_inf: float, gtol: float | None) -> Outcome:
    if gtol is not None and grad_norm_inf <= gtol:
        return StopReason.GRADIENT, grad_norm_inf
    return None, grad_norm_inf


def step_test(step_norm: float, x_norm: float, xtol: float | None) -> Outcome:
    """Relative step test; the ``+ xtol`` keeps it meaningful at x = 0."""
    if xtol is None:
        return None, step_norm
    if step_norm <= xtol * (x_norm + xtol):
        return StopReason.STEP, step_norm
    return None, step_norm


def cost_test(actual_reduction: float, cost: float, rho: float, ftol: float | None) -> Outcome:
    """Relative cost reduction on an accepted step whose model was trustworthy."""
    if ftol is None or cost <= 0.0 or not math.isfinite(actual_reduction):
        # cost == 0 means an exact fit: the gradient test fires instead.
        return None, math.nan
    relative = actual_reduction / cost
    if relative <= ftol and rho > 0.25:
        return StopReason.COST, relative
    return None, relative


def budget_test(nfev: int, max_nfev: int | None, nit: int, max_iter: int | None) -> Outcome:
    if max_nfev is not None and nfev >= max_nfev:
        return StopReason.MAX_NFEV, float(max_nfev)
    if max_iter is not None and nit >= max_iter:
        return StopReason.MAX_ITER, float(max_iter)
    return None, math.nan
