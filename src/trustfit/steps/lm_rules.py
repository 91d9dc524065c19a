"""Levenberg-Marquardt's rules, stated once: damping start and update, acceptance, the
cost test's agreement, the end of the damping's room.

Madsen, Nielsen & Tingleff, *Methods for non-linear least squares problems* (2nd ed., IMM
DTU 2004), Algorithm 3.16, with Nielsen's damping update (1999) and MINPACK's cost test
(More, Garbow & Hillstrom 1980, ``lmder``'s ``ftol``).  ``F = 1/2 ||r||^2`` is the cost at
the current point, ``Ft`` at the trial point, ``pred = L(0) - L(h)`` the decrease the
linear model predicts for the step.

Written as plain arithmetic on floats so that one text serves every Levenberg-Marquardt in
trustfit: the single fit (:mod:`trustfit.steps.damped`) calls them on Python floats, the
batch numpy backend on arrays of curves (the functions marked *elementwise*), and the
compiled batch kernel and its lanes compile them with numba (``trustfit.batch``'s kernel
modules bind this module's functions beside their own).  Each rule compares quantities of
the same units (costs with costs, ``mu`` with the diagonal of ``J^T J``), so none depends on
the scale of the data, of sigma or of the parameters.

Every Levenberg-Marquardt here damps with Moré's scaling (Moré 1978, "The Levenberg-Marquardt
algorithm: implementation and theory"; MINPACK ``lmder`` with ``mode=1``): the step solves
``(J^T J + mu D^2) h = -g`` with ``D_j^2`` the running maximum of ``(J^T J)_jj`` over the
accepted points (:func:`scale_start`, :func:`scale_update`), so ``mu`` is relative to the
scaled normal matrix ``D^-1 J^T J D^-1`` (unit diagonal at the start) and the iterates do
not depend on the parameters' units: ``x_j -> c x_j`` scales ``(J^T J)_jj`` and ``D_j^2`` by
``1/c^2`` together.  The batch's kernels and numpy backend damp this way; the single fit does
with ``x_scale='jac'`` (its ``D``, :class:`trustfit.core.scaling.Scaling`).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "MU_ROOM",
    "cost_converged",
    "damping_exhausted",
    "damping_start",
    "gain_accepted",
    "nielsen_accept",
    "nielsen_reject",
    "scale_start",
    "scale_update",
]

#: the damping's room: ``mu`` up to this times the largest diagonal of ``J^T J``; past it a
#: step underflows to zero (the single fit's scaled ``J^T J`` has a unit-sized diagonal)
MU_ROOM = 1e300


def damping_start(tau, diag_max):
    """``mu_0 = tau max_j (J^T J)_jj``; ``tau`` when that is not a positive finite number
    (a zero Jacobian, or an underflow or overflow of the product)."""
    mu = tau * diag_max
    return mu if mu > 0.0 and math.isfinite(mu) else tau


def scale_start(diag):
    """Moré's scaling at the start, ``D_j^2 = (J^T J)_jj``; 1 for a zero or non-finite
    column (MINPACK's rule, :class:`trustfit.core.scaling.Scaling`).  Scalar."""
    return diag if 0.0 < diag < math.inf else 1.0


def scale_update(d2, diag):
    """Moré's scaling at an accepted point: ``D_j^2 = max(D_j^2, (J^T J)_jj)``; a non-finite
    diagonal leaves it (the single fit's rule).  Scalar."""
    return diag if d2 < diag < math.inf else d2


def gain_accepted(F, Ft, pred):
    """A trial step is taken when the gain ratio ``rho = (F - Ft) / pred`` is positive with
    both parts positive and ``Ft`` finite (a non-finite trial cost is a refusal, never an
    error).  Elementwise."""
    return np.isfinite(Ft) & (pred > 0.0) & (F - Ft > 0.0)


def nielsen_accept(mu, rho):
    """Nielsen's update after an accepted step: ``mu max(1/3, 1 - (2 rho - 1)^3)`` (and
    ``nu = 2``).  Elementwise.  The cube rounds as each backend's power does: the C
    library's ``pow`` in Python and numpy, two products in numba (an integer power):
    the factors may differ in the last bit, never the rule."""
    return mu * np.maximum(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3)


def nielsen_reject(mu, nu):
    """Nielsen's update after a refused step: ``(mu nu, 2 nu)``.  Elementwise."""
    return mu * nu, 2.0 * nu


def cost_converged(F, Ft, pred, ftol):
    """MINPACK's cost test on a trial step, accepted or not: the actual and the predicted
    reductions both at most ``ftol F`` and agreeing to a factor 2 (a relative test on the
    cost: free of units).  Elementwise (NaN fails)."""
    dF = F - Ft
    return ((F > 0.0) & np.isfinite(Ft) & (np.abs(dF) <= ftol * F) & (pred <= ftol * F)
            & ((pred <= 0.0) | (dF <= 2.0 * pred)))


def damping_exhausted(mu, diag_max):
    """The damping has run out of room: ``mu`` not below ``MU_ROOM`` times the largest
    diagonal of the damped normal matrix (1 when that is zero), relative so the same at
    every scale.  Damped with Moré's scaling that diagonal is the scaled ``D^-1 J^T J
    D^-1``'s, of size 1: every Levenberg-Marquardt here passes 1."""
    return not (mu < MU_ROOM * (diag_max if diag_max > 0.0 else 1.0))
