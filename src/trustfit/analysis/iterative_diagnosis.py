"""The diagnosis of a fit whose Jacobian is a sparse matrix or a LinearOperator, without a
dense SVD (:func:`trustfit.diagnose` dispatches here for such a result).

The dense checks that need singular vectors (``rank_deficient`` with the undetermined
combination named, ``exchangeable_parameters``) would form ``m x n`` and ``n x n`` arrays;
here the same questions are answered by the iterative estimates of the certificate
(:mod:`trustfit.core.iterative_certificate`), and the findings say that they are estimates:

* ``parameter_not_moved``: zero columns by :func:`trustfit.core.stopping.zero_columns`
  (exact column norms for a sparse matrix, estimated ones for an operator);
* ``ill_conditioned``: the LSMR and sampled null-space estimate of the condition number of
  the column-scaled Jacobian above :data:`~trustfit.core.stopping.CONDITION_LIMIT` (an error
  where it made the stop ``DEGENERATE``); the combination is not named;
* ``not_stationary``: the share of the residual in the range of ``J`` by LSQR, squared (a
  share of the cost), above the dense diagnosis' thresholds;
* ``iterative_diagnosis`` (info): that the diagnosis used these estimates.

The checks that read only the history, the stop reason and the bounds are the dense
diagnosis' own. Every measure is scale-free as in the dense diagnosis: normalized columns,
a unit residual, ratios.
"""
from __future__ import annotations

import numpy as np

from ..core import stopping
from ..core.iterative_certificate import condition_estimate, stationary_share
from ..core.linalg import column_norms
from ..core.result import StopReason
from ..core.sparse_linalg import kind_of, product_operator, scale_columns, select_columns

#: The dense diagnosis' limit on the share of the cost a Gauss-Newton step would remove.
STATIONARY = 1e-4


def _label(names, j: int) -> str:
    return names[j] if names is not None else f"x[{j}]"


def iterative_findings(result, names, finding) -> list:
    """The findings of the module docstring, each made by ``finding(code, severity, message,
    parameters, advice, value, threshold)`` (the dense diagnosis' ``Finding``)."""
    J, x, r = result.jac, np.asarray(result.x, dtype=float), np.asarray(result.fun, dtype=float)
    m, n = J.shape
    noise = stopping.jacobian_noise(getattr(result, "jac_method", None))
    found = [finding(
        "iterative_diagnosis", "info",
        f"The {m} x {n} Jacobian is a {kind_of(J)}: the diagnosis used iterative "
        "estimates (LSMR condition estimate with a sampled null-space check, LSQR projection), "
        "no dense SVD; an undetermined combination of parameters is reported, not named.",
        (), "For a named combination, fit a smaller sub-problem with a dense Jacobian.")]
    zero = stopping.zero_columns(J, x, result.x0, noise, r)
    if np.any(zero):
        idx = np.flatnonzero(zero)
        shown = ", ".join(_label(names, j) for j in idx[:10]) + (", ..." if idx.size > 10 else "")
        found.append(finding(
            "parameter_not_moved", "error",
            f"{idx.size} parameter{'s have' if idx.size > 1 else ' has'} no influence on the "
            f"residuals at the solution (a zero Jacobian column): {shown}.",
            tuple(names[j] for j in idx) if names is not None else tuple(idx.tolist()),
            "Remove or fix these parameters, or check the model and the sparsity pattern.",
            value=float(idx.size), threshold=stopping.ZERO_COLUMN))
        return found
    norms = column_norms(J)
    A = product_operator(scale_columns(J, 1.0 / np.where(norms > 0.0, norms, 1.0)))
    cond, capped = condition_estimate(A)
    if cond > stopping.CONDITION_LIMIT:
        degenerate = result.stop_reason is StopReason.DEGENERATE
        found.append(finding(
            "ill_conditioned", "error" if degenerate else "warning",
            f"The column-scaled Jacobian has condition number at least {cond:.3g} (iterative "
            f"estimate; threshold {stopping.CONDITION_LIMIT:.2g}): some combination of the "
            "parameters is not determined by the data.",
            (), "Fix a gauge (e.g. one camera or point in bundle adjustment), add priors, or "
            "reparametrise.", value=cond, threshold=stopping.CONDITION_LIMIT))
    stalled = result.stop_reason is StopReason.STALLED
    if (stalled or result.stop_reason.converged) and not stopping.exact_fit(J, r, x):
        share, _ = stationary_share(A, r)
        threshold = stopping.STATIONARY_LIMIT ** 2 if stalled else STATIONARY
        if share**2 > threshold:
            found.append(finding(
                "not_stationary", "error",
                f"The fit stopped, but a Gauss-Newton step from there would still remove "
                f"{100 * share**2:.3g}% of the cost (LSQR estimate; threshold "
                f"{100 * threshold:.2g}%): this is not a minimum.",
                (), "Start closer, rescale the parameters (x_scale), or tighten xtol/ftol.",
                value=share**2, threshold=threshold))
    return found


def iterative_gauss_newton_fraction(result) -> float:
    """``||P r||^2 / ||r||^2`` over the free parameters with a non-zero column, by LSQR
    (:func:`trustfit.core.iterative_certificate.stationary_share`): the dense diagnosis'
    ``gauss_newton_fraction`` without its SVD. Where the LSQR projection resolves directions
    that the dense one leaves out (singular values below ``sqrt(eps)`` of the largest) it
    can only be larger: a stricter test of a minimum."""
    r = np.asarray(result.fun, dtype=float)
    noise = stopping.jacobian_noise(getattr(result, "jac_method", None))
    free = ((np.asarray(result.active_mask) == 0)
            & ~stopping.zero_columns(result.jac, result.x, result.x0, noise, r))
    if not free.any() or not np.all(np.isfinite(r)) or float(np.linalg.norm(r)) == 0.0:
        return 0.0
    J = select_columns(result.jac, free)
    norms = column_norms(J)
    A = product_operator(scale_columns(J, 1.0 / np.where(norms > 0.0, norms, 1.0)))
    share, _ = stationary_share(A, r)
    return share**2
