"""Why a fit failed, or what to watch for, in words: findings computed from a :class:`FitResult`.

Every check is a pure function of the result (its Jacobian, residuals, stop reason, history,
bounds): nothing here re-runs the fit or evaluates the model. Each returns a list of
:class:`Finding` (empty when all is well) with the measured ``value`` and the ``threshold``
that decided it. The cutoffs, all stated here and in each function:

===========================  =====================================================================
code                         fires when
===========================  =====================================================================
``rank_deficient``           the Jacobian's numerical rank (singular values above
                             ``RANK_RCOND = eps * max(m, n)`` times the largest) is below ``n``;
                             names the undetermined combination from the SVD's null space
``ill_conditioned``          full rank, but the condition number of the column-scaled Jacobian
                             (columns of unit norm) exceeds ``COND_LIMIT = 1/sqrt(eps)`` (6.7e7,
                             the solver's own limit for certifying a stop: about half of the 16
                             digits are lost in the solution and its covariance)
``exchangeable_parameters``  two Jacobian columns are equal up to sign: parallel within
                             ``1 - |cos| <= EXCHANGE_COS = 1e-4`` and norms within a factor
                             ``EXCHANGE_NORM = 1.1``, so swapping the two parameters leaves the
                             linearised model unchanged (a symmetric point such as the textbook's
                             ``x1 = x2, x3 = x4``)
``parameter_not_moved``      a Jacobian column is zero: its effect ``||J_j|| s_j`` is within
                             ``ZERO_COLUMN = 100`` times the Jacobian's own error
                             (:func:`trustfit.core.stopping.zero_columns`: ``eps`` or the finite
                             differences' ``eps / h``, times the size of the model's terms)
``not_stationary``           the stop reason is ``STALLED``, or a convergence test fired but a
                             Gauss-Newton step from the final
                             point would still remove more than ``STATIONARY = 1e-4`` of the cost
                             (``||P_J r||^2 / ||r||^2``, P_J the projection onto the range of the
                             free, non-zero Jacobian columns with singular values above sqrt(eps)
                             of the largest: Bates & Watts' relative-offset criterion); for
                             ``STALLED`` the threshold is the solver's (``STATIONARY_LIMIT**2``);
                             not on an exact fit (``||r|| <= 1e-6 || |J| |x| ||``)
``bad_start``                at least half (and at least 3) of the trial steps gave non-finite
                             residuals (overflow), or the run never accepted a step and did not
                             converge
``line_search_failed``       the stop reason is ``LINE_SEARCH_FAILED``
``no_progress``              the stop reason is ``NO_PROGRESS`` (damping or radius at its limit)
``budget_exhausted``         the stop reason is ``MAX_NFEV`` or ``MAX_ITER``
``at_bound``                 a parameter ends on a bound (``active_mask != 0``)
``large_residual``           not ``'hybrid'``, at least ``SLOW_MIN_STEPS = 6`` accepted steps, and
                             over the last ``SLOW_MIN_STEPS`` accepted steps the step length shrank
                             by a factor of at least ``SLOW_RATE = 0.5`` per step on average
                             (linear convergence, the mark of a large-residual problem), and the
                             residuals are not small: ``||r|| >= SMALL_RESIDUAL = 1e-4`` times
                             ``|| |J| |x| ||`` (slow convergence on a near-zero-residual fit has
                             other causes)
===========================  =====================================================================

A rank-deficient Jacobian with its combination named; a pseudo-inverse covariance is then
returned by :mod:`trustfit.analysis.uncertainty`, flagged, never a silent ``inf``.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.result import FitResult, StopReason
from ..core.sparse_linalg import is_large
from .iterative_diagnosis import iterative_findings
# The vocabulary and the checks on the solution's geometry live in their own modules; they
# are re-exported here, the diagnosis's one public module.
from .findings import (COND_LIMIT, EPS, EXACT_FIT, EXCHANGE_COS, EXCHANGE_NORM,  # noqa: F401
                       NULL_COMPONENT, SEVERITIES, SLOW_MIN_STEPS, SLOW_RATE, SMALL_RESIDUAL,
                       STATIONARY, Diagnosis, Finding, _fmt, _ids, _join, _label, _names)
from .solution_checks import (_zero_columns, check_conditioning,  # noqa: F401
                              check_exchangeable, check_not_moved, check_rank, check_stationary,
                              exact_fit, exchangeable_pairs, gauss_newton_fraction,
                              parameter_scale, sparse_null_basis)


def check_bad_start(result: FitResult, names=None) -> list[Finding]:
    """``bad_start``: >= half (and >= 3) of the trials overflowed, or no step was ever
    accepted and the run did not converge."""
    trials = len(result.history)
    bad = sum("non-finite" in h.note for h in result.history)
    accepted = sum(h.accepted for h in result.history)
    if bad >= 3 and bad >= trials / 2:
        return [Finding(
            "bad_start", "error",
            f"{bad} of {trials} trial steps gave non-finite residuals (overflow): the start "
            "is in a region where the model blows up.",
            (), "Start closer to plausible values, or add bounds that keep the model finite.",
            value=float(bad), threshold=max(3.0, trials / 2))]
    if trials and accepted == 0 and not result.stop_reason.converged:
        return [Finding(
            "bad_start", "error",
            f"No step from the start was accepted in {trials} trials: the fit never left x0.",
            (), "Check the model and Jacobian at x0, or start elsewhere.",
            value=0.0, threshold=1.0)]
    return []


def check_stop_reason(result: FitResult, names=None) -> list[Finding]:
    """``line_search_failed``, ``no_progress`` and ``budget_exhausted`` from the stop reason."""
    reason = result.stop_reason
    if reason is StopReason.LINE_SEARCH_FAILED:
        return [Finding(
            "line_search_failed", "error",
            "The line search found no step length that decreased the cost, so the fit stopped "
            "before converging.",
            (), "Use a trust-region method (method='lm' or 'hybrid'), or check the Jacobian "
            "(a wrong analytic jac gives a non-descent direction).",
            value=result.stop_value)]
    if reason is StopReason.NO_PROGRESS:
        return [Finding(
            "no_progress", "error",
            "The damping or trust region reached its limit without an acceptable step, so the "
            "fit stopped before converging.",
            (), "Check the Jacobian (jac='3-point' or 'cs' are more accurate than '2-point'), "
            "or loosen the tolerances.", value=result.stop_value)]
    if reason in (StopReason.MAX_NFEV, StopReason.MAX_ITER):
        which = "max_nfev" if reason is StopReason.MAX_NFEV else "max_iter"
        return [Finding(
            "budget_exhausted", "error",
            f"The budget {which}={result.stop_value:.0f} was used up before any convergence "
            "test fired.",
            (), f"Raise {which}, start closer, or try method='hybrid' if the last steps were "
            "small and steady.", value=result.stop_value, threshold=result.stop_value)]
    return []


def check_bounds(result: FitResult, names=None) -> list[Finding]:
    """``at_bound``: parameters with ``active_mask != 0``."""
    active = np.flatnonzero(np.asarray(result.active_mask) != 0)
    if active.size == 0:
        return []
    parts = []
    for j in active:
        side = "lower" if result.active_mask[j] < 0 else "upper"
        parts.append(f"{_label(names, j)} at its {side} bound {_fmt(result.x[j])}")
    return [Finding(
        "at_bound", "warning",
        f"The fit ends with {_join(parts)}: the bound, not the data, decides "
        f"{'these values' if active.size > 1 else 'this value'}.",
        _ids(names, active),
        "Widen the bound if it is not physical; standard errors of parameters at a bound are "
        "not meaningful.", value=float(active.size))]


def _relative_residual(result: FitResult) -> float:
    """``||r|| / || |J| |x| ||``: the residuals against the size of the linearised model."""
    with np.errstate(all="ignore"):
        terms = float(np.linalg.norm(np.abs(result.jac) @ np.abs(result.x)))
        value = float(np.linalg.norm(result.fun)) / terms if terms > 0 else np.inf
    return value if np.isfinite(value) or value == np.inf else 0.0


def check_large_residual(result: FitResult, names=None) -> list[Finding]:
    """``large_residual``: linear convergence at the end (see the module table)."""
    if result.method == "hybrid" or _relative_residual(result) < SMALL_RESIDUAL:
        return []
    steps = [h.step_norm for h in result.history if h.accepted and h.step_norm > 0]
    if len(steps) < SLOW_MIN_STEPS:
        return []
    last = np.asarray(steps[-SLOW_MIN_STEPS:])
    rate = float(np.exp(np.mean(np.log(last[1:] / last[:-1]))))
    if not (SLOW_RATE <= rate < 1.0):
        return []
    return [Finding(
        "large_residual", "info",
        f"The last {SLOW_MIN_STEPS} steps shrank only by a factor {rate:.2f} per iteration "
        "(linear convergence), the mark of residuals that stay large at the solution.",
        (), "Use method='hybrid' (Madsen's LM / quasi-Newton), which converges faster on "
        "large-residual problems.", value=rate, threshold=SLOW_RATE)]


CHECKS = (check_bad_start, check_stop_reason, check_stationary, check_rank, check_conditioning,
          check_exchangeable, check_not_moved, check_bounds, check_large_residual)
LIGHT_CHECKS = (check_bad_start, check_stop_reason, check_bounds)  # need no dense Jacobian


def diagnose(result: FitResult, param_names: Sequence[str] | None = None) -> Diagnosis:
    """All findings for ``result``, errors first. Pure: reads the result, never re-runs the
    fit. ``param_names`` (or ``result.param_names``) names the parameters in messages and in
    ``Finding.parameters``; without names parameters are indices (``x[0]`` in messages)."""
    names = _names(result, param_names)
    large = is_large(result.jac)  # sparse or an operator: no dense SVD (iterative_diagnosis)
    with np.errstate(all="ignore"):
        found = [f for check in (LIGHT_CHECKS if large else CHECKS) for f in check(result, names)]
        found += iterative_findings(result, names, Finding) if large else []
    order = {s: k for k, s in enumerate(SEVERITIES)}
    return Diagnosis(tuple(sorted(found, key=lambda f: order[f.severity])))
