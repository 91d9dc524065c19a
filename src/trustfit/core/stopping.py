"""Stopping tests: small pure functions that return the reason and the number behind it.

Each test returns ``(StopReason | None, measured_value)`` so the driver can report not only
*that* a test fired but the value that made it fire (Ceres ``ParameterToleranceReached``,
SciPy ``_lsq/common.check_termination``). The criteria are those of Madsen, Nielsen &
Tingleff (2004), eqs. (3.15), each in a form that does not depend on the units of the data or
of the parameters:

* gradient: ``max_j |J_j . r| / (||J_j|| ||r||) <= gtol`` (:func:`gradient_cosine`), the
  cosine of the angle between the residuals and each Jacobian column: MINPACK's ``gtol``
  (Moré, Garbow & Hillstrom 1980, User Guide for MINPACK-1, sec. 2.3; SciPy's ``'lm'``);
* step: ``|h_j| <= xtol (|x_j| + xtol w_j)`` for every parameter (:func:`step_test`), the
  componentwise relative step of Dennis & Schnabel (1983, eq. 7.2.5);
* cost: actual and predicted reductions ``<= ftol * F(x)`` (MINPACK), any trial step
* budgets: evaluations and iterations.

A tolerance of ``None`` switches its test off.

Scale invariance, the rule for every threshold here: multiplying the residuals (y and the
model, or 1/sigma) by any ``s > 0``, adding a constant baseline that a parameter absorbs, or
changing a parameter's units (``x_j -> c_j x_j``, the model rewritten) leaves every decision
unchanged up to rounding. Each threshold is therefore a ratio of quantities that scale alike:
the gradient's cosine and the share of the residual in the range of ``J`` (dimensionless),
relative steps, relative cost reductions, the condition number of the column-scaled Jacobian,
and the residual or a column against the Jacobian's own accuracy (``eps`` for an exact
Jacobian, ``eps / h`` for finite differences with relative step ``h``). The driver also works
on residuals divided by a power of two fixed at ``x0`` (:class:`trustfit.core.scaling.ResidualScale`)
so that costs of 1e-300 or 1e300 neither under- nor overflow.

A convergence test firing is not yet a certificate: :func:`certify` checks the point where it
fired (first-order stationarity and a non-degenerate Jacobian) before ``success`` is claimed.
"""
from __future__ import annotations

import math

import numpy as np

from .differentiation import DEFAULT_RELATIVE_STEP
from .linalg import column_norms, norm2
from .quiet import quiet
from .sparse_linalg import abs_times, is_large
from .result import StopReason

EPS = float(np.finfo(float).eps)
#: Largest relative length of the residual's projection on range(J) at a certified point.
#: On NIST StRD the certified solutions measure at most 1.6e-8 (with finite differences), the
#: stalls and wrong local solutions at least 1e-6.
STATIONARY_LIMIT = 1e-7
#: Largest condition number of the column-scaled Jacobian at a certified point: beyond
#: 1/sqrt(eps) half the digits of the Gauss-Newton step are rounding, the parameters are not
#: determined. NIST StRD solutions have at most 5.7e4 (Bennett5).
CONDITION_LIMIT = 1.0 / math.sqrt(EPS)
#: A fit is exact to rounding, with nothing to certify, when the residuals are below this
#: times ``|| |J| |x| ||``, the size of the linearised model's terms (:func:`exact_fit`): the
#: rounding error of residuals computed from terms of that size, and of data given to 13
#: digits (NIST Lanczos1 ends at 514 eps), 2048 eps. Relative to the model, not to the
#: starting cost: an absurd start (cost 1e79 from exp(90)) must not make any later cost look
#: exact; and close to rounding, not at 1e-8: a baseline of 1e9 absorbed by an offset makes
#: the terms 1e9, and a residual of 10 (the signal on top of it) is not an exact fit.
EXACT_RESIDUAL = 2048 * EPS
#: A column is zero when it is within this factor of the Jacobian's own error
#: (:func:`zero_columns`).
ZERO_COLUMN = 100.0
#: Relative accuracy ``eps / h`` of a Jacobian by how it was computed (``h`` the relative
#: finite-difference step, :mod:`trustfit.core.differentiation`): rounding errors ``eps |f|`` in
#: the residuals become ``eps |f| / h`` in a difference quotient. ``'exact'``: an analytic or
#: complex-step Jacobian.
JACOBIAN_NOISE = {"exact": EPS, "cs": EPS, "callable": EPS,
                  **{k: EPS / v for k, v in DEFAULT_RELATIVE_STEP.items() if k != "cs"}}


def jacobian_noise(kind: str | None) -> float:
    """Relative accuracy of a Jacobian computed by ``kind`` (see :data:`JACOBIAN_NOISE`)."""
    return JACOBIAN_NOISE.get(kind or "exact", EPS)


def parameter_scale(x: np.ndarray, x0: np.ndarray | None) -> np.ndarray:
    """The size of each parameter: ``max(|x_j|, |x0_j|)`` (a parameter that ends near 0 keeps
    the size it started with), or 1 where both are 0."""
    x = np.abs(np.asarray(x, dtype=float))
    x0 = np.zeros_like(x) if x0 is None else np.abs(np.asarray(x0, dtype=float))
    size = np.maximum(x, x0)
    return np.where(size > 0, size, 1.0)


def model_size(J: np.ndarray, x: np.ndarray, r: np.ndarray | None = None) -> float:
    """``|| |J| |x| || (+ ||r||)``: the size of the linearised model's terms (and of the data,
    ``y = model - r``), the magnitude that sets the rounding level of the residuals."""
    with quiet():
        terms = norm2(abs_times(J, np.abs(np.asarray(x, dtype=float))))
    return terms + (norm2(r) if r is not None else 0.0)


def column_signal(J: np.ndarray, x: np.ndarray, x0: np.ndarray | None = None,
                  noise: float = EPS, r: np.ndarray | None = None,
                  norms: np.ndarray | None = None,
                  magnitude: float | None = None) -> np.ndarray:
    """Each column's effect over its error, ``||J_j|| size_j / (noise T)``: 0 for a zero
    column, ``inf`` where no error is known (see :func:`zero_columns`). ``norms``: the
    column norms of ``J``, ``magnitude``: :func:`model_size` ``(J, x, r)``, when the caller
    has them."""
    J = J if is_large(J) else np.asarray(J, dtype=float)
    x = np.asarray(x, dtype=float)
    norms = column_norms(J) if norms is None else norms
    if noise > EPS:
        size = np.where(x != 0.0, np.abs(x), 1.0)
    else:
        start = x if x0 is None else np.asarray(x0, dtype=float)
        # no size for a parameter started at 0: only an exactly zero column is zero
        size = np.where(start != 0.0, np.maximum(np.abs(x), np.abs(start)), np.inf)
    level = noise * (model_size(J, x, r) if magnitude is None else magnitude)
    with quiet():
        effect = np.where(norms > 0.0, norms * size, 0.0)
        return np.where(effect == 0.0, 0.0, effect / level)


def zero_columns(J: np.ndarray, x: np.ndarray, x0: np.ndarray | None = None,
                 noise: float = EPS, r: np.ndarray | None = None,
                 norms: np.ndarray | None = None,
                 magnitude: float | None = None) -> np.ndarray:
    """Mask of the Jacobian columns with no effect: a column that is zero or within
    ``ZERO_COLUMN`` times its own error (:func:`column_signal` at most ``ZERO_COLUMN``).

    The error of column ``j`` is ``noise * T / h_j`` (``T`` = :func:`model_size`, the
    magnitude whose rounding the column sees): with finite differences ``noise = eps / h``
    and the step is ``h |x_j|`` (``h`` when ``x_j = 0``), so the test is
    ``||J_j|| size_j <= ZERO_COLUMN * noise * T`` with ``size_j = |x_j|`` (1 at 0), the
    finite differences' own convention. With an exact Jacobian (``noise = eps``) the size of a
    parameter is only known when the user gave one: ``size_j = max(|x_j|, |x0_j|)`` where
    ``x0_j != 0`` (a parameter whose whole effect is below the residuals' rounding does not
    influence them); a parameter started at 0 carries no unit, and only an exactly zero column
    is zero. Every quantity scales with the data, and ``||J_j|| size_j`` is free of the
    parameter's units: the rule is invariant to both (and a baseline enters only through
    ``T``, where it truly sets the rounding level of finite differences)."""
    if (J.shape if is_large(J) else np.asarray(J).shape)[1] == 0:
        return np.zeros(0, dtype=bool)
    return column_signal(J, x, x0, noise, r, norms, magnitude) <= ZERO_COLUMN


#: What a stopping test returns: the reason that fired (``None``: none) and the measured value.
Verdict = tuple[StopReason | None, float]


def gradient_cosine(J: np.ndarray, r: np.ndarray, norms: np.ndarray | None = None,
                    gradient: np.ndarray | None = None) -> float:
    """``max_j |J_j . r| / (||J_j|| ||r||)``: the cosine of the angle between the residuals
    and the Jacobian column closest to them (MINPACK ``lmder``'s ``gnorm``), 0 for an exact
    fit or a zero column. Unlike ``||J^T r||_inf`` it is the same at every scale of the data
    and of each parameter, and a baseline absorbed by a parameter leaves it alone.

    ``norms`` and ``gradient = J^T r``, when the driver has them (once per iterate), give it in
    O(n): ``|g_j| / (||J_j|| ||r||)``; where that over- or underflows, the columns are
    normalised first (O(m n))."""
    J = J if is_large(J) else np.asarray(J, dtype=float)
    if J.shape[1] == 0:
        return 0.0
    r_norm = norm2(r)
    if r_norm == 0.0 or not math.isfinite(r_norm):
        return 0.0 if r_norm == 0.0 else math.inf
    if norms is not None and gradient is not None:
        with quiet():
            size = norms * r_norm
            if size.min() > 1e-250 and size.max() < 1e250:  # the common case: every column
                value = float((np.abs(gradient) / size).max())  # counts, no under/overflow
                if math.isfinite(value):
                    return value
            elif np.all((size == 0.0) | ((size > 1e-250) & (size < 1e250))):
                cos = np.abs(gradient[size > 0.0]) / size[size > 0.0]
                value = float(np.max(cos, initial=0.0))
                if math.isfinite(value):
                    return value
    norms = column_norms(J) if norms is None else norms
    with quiet():
        if is_large(J):  # the same cosines, without a scaled copy of J
            cos = np.where(norms > 0.0, np.abs(J.T @ (np.asarray(r, dtype=float) / r_norm))
                           / np.where(norms > 0.0, norms, 1.0), 0.0)
        else:
            unit = J / np.where(norms > 0.0, norms, 1.0)
            cos = np.abs(unit.T @ (np.asarray(r, dtype=float) / r_norm))
    value = float(np.max(cos, initial=0.0))
    return value if math.isfinite(value) else math.inf


def gradient_test(measure: float, gtol: float | None) -> Verdict:
    """Fires when the gradient measure (:func:`gradient_cosine` in the driver) is at most
    ``gtol``."""
    if gtol is not None and measure <= gtol:
        return StopReason.GRADIENT, measure
    return None, measure


def step_floor(J: np.ndarray, x: np.ndarray, norms: np.ndarray | None = None) -> np.ndarray:
    """The floor of the step test for each parameter (:func:`step_test`): the size of the
    whole parameter vector in the units of ``x_j``, ``||c x|| / c_j`` with ``c`` the
    Jacobian's column norms (``c_j x_j`` is free of units, ``norms`` when the caller has
    them); infinite for a zero column."""
    c = column_norms(J) if norms is None else norms
    with quiet():
        if c.size and c.min() > 0.0:  # no zero column: the same numbers, fewer passes
            return norm2(c * np.asarray(x, dtype=float)) / c
        return np.where(c > 0.0, norm2(c * np.asarray(x, dtype=float)) / c, np.inf)


def step_test(step, x, xtol: float | None, floor=1.0) -> Verdict:
    """Componentwise relative step (Dennis & Schnabel 1983, eq. 7.2.5): fires when
    ``|h_j| <= xtol (|x_j| + xtol floor_j)`` for every ``j``; the value is the largest
    ``|h_j| / (|x_j| + xtol floor_j)``.

    Per parameter, not as ``||h|| <= xtol ||x||``: a norm lets the largest parameter decide, so
    that a baseline of 1e9 absorbed by an offset, or a parameter in units that make it 1e20,
    would stop the fit while the others still move by whole percents. ``floor_j`` keeps the
    test meaningful at ``x_j = 0``; the driver passes the size of the other parameters in the
    units of ``x_j`` (``||c x|| / c_j``, ``c`` the Jacobian's column norms), so that it too is
    free of units. Scalars give MNT's eq. 3.15b, ``||h|| <= xtol (||x|| + xtol)``."""
    h = np.abs(np.atleast_1d(np.asarray(step, dtype=float)))
    if xtol is None:
        return None, float(np.max(h, initial=0.0))
    size = np.abs(np.atleast_1d(np.asarray(x, dtype=float))) + xtol * np.asarray(floor)
    with quiet():
        ratio = h / size
        if not (ratio.size and size.min() > 0.0):  # 0 / 0 where x_j = 0 and no floor
            ratio = np.where(h == 0.0, 0.0, ratio)
    value = float(ratio.max()) if ratio.size else 0.0  # ratios >= 0: initial 0 changes none
    if bool((h <= xtol * size).all()):
        return StopReason.STEP, value
    return None, value


def cost_test(actual_reduction: float, predicted_reduction: float, cost: float,
              ftol: float | None) -> Verdict:
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
                  threshold: float) -> Verdict:
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


def budget_test(nfev: int, max_nfev: int | None, nit: int, max_iter: int | None) -> Verdict:
    if max_nfev is not None and nfev >= max_nfev:
        return StopReason.MAX_NFEV, float(max_nfev)
    if max_iter is not None and nit >= max_iter:
        return StopReason.MAX_ITER, float(max_iter)
    return None, math.nan


def exact_fit(J: np.ndarray, r: np.ndarray, x: np.ndarray,
              limit: float = EXACT_RESIDUAL, terms: float | None = None) -> bool:
    """Residuals at most ``limit`` times the size of the linearised model, the smaller of
    ``|| |J| |x| ||`` (its terms) and ``||J x||`` (their sum): a zero-residual fit whose
    residual is rounding noise. The sum guards against terms that cancel: amplitudes of
    +-4e85 on data of size 1e-85 leave residuals at the rounding level of the terms, which is
    no fit at all. Norms are computed without underflow (:func:`trustfit.core.linalg.norm2`).
    ``terms``: :func:`model_size` ``(J, x)`` when the caller has it."""
    with quiet():
        total = norm2((J if is_large(J) else np.asarray(J, dtype=float))
                      @ np.asarray(x, dtype=float))
    terms = min(model_size(J, x) if terms is None else terms, total)
    return bool(math.isfinite(terms) and norm2(r) <= limit * terms)


def certify(J: np.ndarray, r: np.ndarray, cost: float, x: np.ndarray,
            x0: np.ndarray, tolerance: float = 0.0, noise: float = EPS,
            norms: np.ndarray | None = None, factors=None) -> Verdict:
    """Check a point where a convergence test fired (``J``: the columns of the free
    variables; a variable held at a bound satisfies its own optimality condition): ``(None, value)`` when it is certified,
    else ``(StopReason.STALLED | StopReason.DEGENERATE, measured value)``.

    * exact fit (:func:`exact_fit`): certified;
    * degenerate: a zero column (:func:`zero_columns` with the Jacobian's accuracy ``noise``,
      :func:`jacobian_noise`: a parameter with no influence), or condition number of
      ``J diag(1/||J_j||)`` above ``CONDITION_LIMIT``;
    * stationary: ``||U U^T r|| / ||r|| <= max(STATIONARY_LIMIT, sqrt(tolerance))`` with
      ``U`` the left singular vectors of ``J``: the share of the residual the model could
      still remove. Unlike ``||J^T r||`` it does not depend on the scale of the parameters or
      of the data. ``tolerance`` is that of the test that fired: a user who stops at
      ``xtol = 1e-5`` accepts a point that is stationary only to about that level (the
      square root, since the share enters the cost squared), while a stall with half the
      residual still removable is caught at any tolerance.

    Every measure is a ratio of quantities that scale alike, so the verdict is the same for
    data in any units (``cost`` is not used: at 1e-160 it underflows to 0). With a finite-
    difference Jacobian the condition number and the share are only known to about its
    accuracy; the driver confirms a refusal with a more accurate Jacobian
    (:func:`trustfit.core.loop.run`).

    ``norms`` (the column norms of ``J``) and ``factors`` (a zero-argument callable giving
    ``(U, s, U^T r)`` of the thin SVD of ``J diag(1/norms)``, ``U`` ``None`` where only
    ``U^T r`` was kept, :func:`trustfit.core.linalg.equilibrate`): the driver's own, computed
    once per iterate and shared with its steps, so that certifying costs no second
    factorization.
    """
    del cost  # the norm of r, computed without underflow, decides instead
    if J.shape[1] == 0 or norm2(r) == 0.0:
        return None, 0.0
    terms = model_size(J, x)  # shared by the two tests below
    if exact_fit(J, r, x, terms=terms):
        return None, 0.0
    if (not np.isfinite(J).all()
            or zero_columns(J, x, x0, noise, r, norms, terms + norm2(r)).any()):
        return StopReason.DEGENERATE, math.inf
    ur = None
    if factors is not None:
        U, s, ur = factors()
    else:
        U, s, _ = np.linalg.svd(J / column_norms(J), full_matrices=False)
    condition = float(s[0] / s[-1]) if s[-1] > 0.0 else math.inf
    if condition > CONDITION_LIMIT:
        return StopReason.DEGENERATE, condition
    if U is not None:
        r_unit = np.asarray(r, dtype=float) / norm2(r)
        share = float(np.linalg.norm(U.T @ r_unit))
    else:  # the tall factorization keeps U^T r, not U (trustfit.core.linalg)
        assert ur is not None
        share = norm2(ur) / norm2(r)
    if share > max(STATIONARY_LIMIT, math.sqrt(tolerance)):
        return StopReason.STALLED, share
    return None, share
