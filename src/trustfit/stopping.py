"""Stopping tests: small pure functions that return the reason and the number behind it.

Each test returns ``(StopReason | None, measured_value)`` so the driver can report not only
*that* a test fired but the value that made it fire (Ceres ``ParameterToleranceReached``,
SciPy ``_lsq/common.check_termination``). The criteria are those of Madsen, Nielsen &
Tingleff (2004), eqs. (3.15):

* gradient:  ``||g||_inf <= gtol``             (g = J^T r, restricted to free variables)
* step:      ``||h||_2 <= xtol * (||x||_2 + xtol)``
* cost:      actual and predicted reductions ``<= ftol * F(x)`` (MINPACK), any trial step
* budgets:   evaluations and iterations.

A tolerance of ``None`` switches its test off.

A convergence test firing is not yet a certificate: :func:`certify` checks the point where it
fired (first-order stationarity and a non-degenerate Jacobian) before ``success`` is claimed.
"""
from __future__ import annotations

import math

import numpy as np

from .result import StopReason

#: Largest relative length of the residual's projection on range(J) at a certified point.
#: On NIST StRD the certified solutions measure at most 1.6e-8 (with finite differences), the
#: stalls and wrong local solutions at least 1e-6.
STATIONARY_LIMIT = 1e-7
#: Largest condition number of the column-scaled Jacobian at a certified point: beyond
#: 1/sqrt(eps) half the digits of the Gauss-Newton step are rounding, the parameters are not
#: determined. NIST StRD solutions have at most 5.7e4 (Bennett5).
CONDITION_LIMIT = 1.0 / math.sqrt(np.finfo(float).eps)
#: A fit is exact to rounding, with nothing to certify, when the residuals are below this
#: times ``|| |J| |x| ||``, the size of the linearised model's terms (:func:`exact_fit`).
#: Relative to the model, not to the starting cost: an absurd start (cost 1e79 from exp(90))
#: must not make any later cost look exact.
EXACT_RESIDUAL = 1e-8
#: A column whose effect ``||J_j|| max(|x_j|, |x0_j|)`` is at most this times the largest is
#: zero: the parameter does not influence the residuals (NIST solutions: at least 6e-3).
ZERO_COLUMN = 1e-8


def parameter_scale(x: np.ndarray, x0: np.ndarray | None) -> np.ndarray:
    """The size of each parameter: ``max(|x_j|, |x0_j|)`` (a parameter that ends near 0 keeps
    the size it started with), or 1 where both are 0."""
    x = np.abs(np.asarray(x, dtype=float))
    x0 = np.zeros_like(x) if x0 is None else np.abs(np.asarray(x0, dtype=float))
    size = np.maximum(x, x0)
    return np.where(size > 0, size, 1.0)


def zero_columns(J: np.ndarray, x: np.ndarray, x0: np.ndarray | None) -> np.ndarray:
    """Mask of the Jacobian columns with no effect (see ``ZERO_COLUMN``). Judged by effect,
    not by raw norm, so that parameters of very different sizes compare fairly, and a column
    of finite-difference noise is not mistaken for information after column scaling."""
    with np.errstate(all="ignore"):
        effect = np.sqrt(np.sum(J * J, axis=0)) * parameter_scale(x, x0)
    top = float(np.nanmax(effect, initial=0.0))
    return (effect <= ZERO_COLUMN * top) | (top == 0.0)

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


def cost_test(actual_reduction: float, predicted_reduction: float, cost: float,
              ftol: float | None) -> Outcome:
    """Relative reduction test of MINPACK's ``lmder`` (Moré, Garbow & Hillstrom 1980):
    both the actual and the predicted reductions of the cost are at most ``ftol * F``, and
    they agree to a factor 2. It applies to every trial step, accepted or not: a step whose own
    model promises less than ``ftol * F`` cannot improve the fit by more than that, and at
    rounding level the gain ratio is noise, so waiting for an accepted step would only spin."""
    if (ftol is None or cost <= 0.0 or not math.isfinite(actual_reduction)
            or not math.isfinite(predicted_reduction)):
        # cost == 0 means an exact fit: the gradient test fires instead.
        return None, math.nan
    relative = max(abs(actual_reduction), predicted_reduction) / cost
    ratio = actual_reduction / predicted_reduction if predicted_reduction > 0.0 else 1.0
    if relative <= ftol and ratio <= 2.0:
        return StopReason.COST, relative
    return None, relative


def rounding_test(actual_reduction: float, predicted_reduction: float, cost: float,
                  threshold: float) -> Outcome:
    """The cost has reached its rounding level: a step whose model promised a relative
    reduction below ``threshold`` disagreed with the actual change (``rho < 0`` or ``rho > 2``).

    For such small steps the linear model is exact to second order, so a disagreement can
    only come from rounding errors in the residuals: no step can reduce the cost any further
    in floating point. Without this test a trust-region method keeps rejecting noise until the
    damping has shrunk the step below ``xtol``, one wasted evaluation each time."""
    if not threshold or cost <= 0.0 or not (0.0 < predicted_reduction <= threshold * cost):
        return None, math.nan
    rho = actual_reduction / predicted_reduction if math.isfinite(actual_reduction) else -math.inf
    if rho < 0.0 or rho > 2.0:
        return StopReason.ROUNDING, predicted_reduction / cost
    return None, math.nan


def budget_test(nfev: int, max_nfev: int | None, nit: int, max_iter: int | None) -> Outcome:
    if max_nfev is not None and nfev >= max_nfev:
        return StopReason.MAX_NFEV, float(max_nfev)
    if max_iter is not None and nit >= max_iter:
        return StopReason.MAX_ITER, float(max_iter)
    return None, math.nan


def exact_fit(J: np.ndarray, r: np.ndarray, x: np.ndarray,
              limit: float = EXACT_RESIDUAL) -> bool:
    """Residuals at most ``limit`` times ``|| |J| |x| ||``, the size of the linearised
    model's terms: a zero-residual fit whose residual is rounding noise."""
    with np.errstate(all="ignore"):
        terms = float(np.linalg.norm(np.abs(J) @ np.abs(x)))
        return bool(np.isfinite(terms) and float(np.linalg.norm(r)) <= limit * terms)


def certify(J: np.ndarray, r: np.ndarray, cost: float, x: np.ndarray,
            x0: np.ndarray, tolerance: float = 0.0) -> Outcome:
    """Check a point where a convergence test fired (``J``: the columns of the free
    variables; a variable held at a bound satisfies its own optimality condition): ``(None, value)`` when it is certified,
    else ``(StopReason.STALLED | StopReason.DEGENERATE, measured value)``.

    * exact fit (:func:`exact_fit`): certified;
    * degenerate: a zero column (:func:`zero_columns`: a parameter with no influence), or
      condition number of ``J diag(1/||J_j||)`` above ``CONDITION_LIMIT``;
    * stationary: ``||U U^T r|| / ||r|| <= max(STATIONARY_LIMIT, sqrt(tolerance))`` with
      ``U`` the left singular vectors of ``J``: the share of the residual the model could
      still remove. Unlike ``||J^T r||`` it does not depend on the scale of the parameters or
      of the data. ``tolerance`` is that of the test that fired: a user who stops at
      ``xtol = 1e-5`` accepts a point that is stationary only to about that level (the
      square root, since the share enters the cost squared), while a stall with half the
      residual still removable is caught at any tolerance.
    """
    if cost == 0.0 or J.shape[1] == 0 or exact_fit(J, r, x):
        return None, 0.0
    if not np.all(np.isfinite(J)) or np.any(zero_columns(J, x, x0)):
        return StopReason.DEGENERATE, math.inf
    norms = np.sqrt(np.sum(J * J, axis=0))
    U, s, _ = np.linalg.svd(J / norms, full_matrices=False)
    condition = float(s[0] / s[-1]) if s[-1] > 0.0 else math.inf
    if condition > CONDITION_LIMIT:
        return StopReason.DEGENERATE, condition
    share = float(np.linalg.norm(U.T @ r) / np.linalg.norm(r))
    if share > max(STATIONARY_LIMIT, math.sqrt(tolerance)):
        return StopReason.STALLED, share
    return None, share
