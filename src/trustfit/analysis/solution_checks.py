"""The checks on the geometry of the solution, from its Jacobian and residuals: rank,
conditioning, exchangeable parameters, parameters the residuals do not depend on, and
stationarity (the codes and their cutoffs are in the table of
:mod:`trustfit.analysis.diagnostics`).

Each costs at most one thin SVD of the (m, n) Jacobian and O(m n + n^2) more, vectorized
(no Python loop over pairs of parameters): the rescue layer runs some of them after a fit."""
from __future__ import annotations

from typing import cast

import numpy as np

from ..core import stopping
from ..core.events import StopTestFired
from ..core.result import FitResult, StopReason
from ..core.linalg import LARGE, column_norms
from ..core.sparse_linalg import is_large
from ..core.stopping import STATIONARY_LIMIT, ZERO_COLUMN
from .findings import (COND_LIMIT, EPS, EXACT_FIT, EXCHANGE_COS, EXCHANGE_NORM, NULL_COMPONENT,
                       STATIONARY, Finding, _ids, _join, _label)
from .findings import column_norms_plain as _column_norms
from .iterative_diagnosis import iterative_gauss_newton_fraction
from .uncertainty import covariance, default_rcond


# --- one function per code --------------------------------------------------------------------
def _combination(v: np.ndarray, x: np.ndarray, names: list[str] | None) -> str:
    """The parameter combination that a null vector ``v`` leaves undetermined, in words: the
    data fix only the combination that does not change along ``v``. Two parameters: a
    product or ratio when ``v`` is proportional to ``(x_i, -x_j)`` or ``(x_i, x_j)`` (the
    null direction in log coordinates), a sum or difference when to ``(1, -1)`` or ``(1, 1)``;
    where both readings hold (``x_i = x_j``) both are named."""
    idx = sorted(j for j in range(v.size) if abs(v[j]) >= NULL_COMPONENT)
    tol = 1e-3
    if len(idx) == 2:
        i, j = idx
        a, b = _label(names, i), _label(names, j)
        log_form = linear = None
        if x[i] != 0 and x[j] != 0:
            li, lj = v[i] / x[i], v[j] / x[j]   # the null direction in log coordinates
            if abs(li + lj) <= tol * (abs(li) + abs(lj)):
                log_form = f"{a}·{b}"
            elif abs(li - lj) <= tol * (abs(li) + abs(lj)):
                log_form = f"{a}/{b}"
        if abs(v[i] + v[j]) <= tol * (abs(v[i]) + abs(v[j])):
            linear = f"{a} + {b}"
        elif abs(v[i] - v[j]) <= tol * (abs(v[i]) + abs(v[j])):
            linear = f"{a} - {b}"
        if log_form and linear:
            return f"{log_form} (here also {linear})"
        if log_form or linear:
            return cast(str, log_form or linear)  # one of them is set (the test above)
    if len(idx) == 1:
        return f"nothing about {_label(names, idx[0])}"
    # General case: moving along v changes nothing; name the direction.
    terms = " ".join(f"{'+' if v[j] >= 0 else '-'} {abs(v[j]):.3g}·d{_label(names, j)}"
                     for j in idx).lstrip("+ ")
    return f"the parameters up to the direction ({terms})"


def sparse_null_basis(N: np.ndarray) -> np.ndarray:
    """A basis of the span of ``N``'s columns in reduced echelon form (each vector has one
    pivot parameter no other vector uses), so each names as few parameters as possible;
    columns normalised to unit length."""
    if N.shape[1] == 0:
        return N
    from scipy.linalg import qr

    _, _, piv = qr(N.T, pivoting=True)
    rows = np.sort(piv[: N.shape[1]])
    block = N[rows, :]  # singular when N's columns are dependent to rounding: N is kept
    B = N @ np.linalg.inv(block) if np.linalg.cond(block) <= 1.0 / EPS else N.copy()
    B[np.abs(B) < 1e-12 * np.abs(B).max()] = 0.0
    return B / np.linalg.norm(B, axis=0)


def check_rank(result: FitResult, names=None) -> list[Finding]:
    """``rank_deficient``: numerical rank of J below n (cut-off ``eps * max(m, n) * s_max``)."""
    if not np.all(np.isfinite(result.jac)):
        return []
    cov = covariance(result)
    n = result.x.size
    if not cov.rank_deficient:
        return []
    combos, involved = [], set[int]()
    null = sparse_null_basis(cov.null_space)
    for k in range(null.shape[1]):
        v = null[:, k]
        v = v * np.sign(v[np.argmax(np.abs(v))])
        combos.append(_combination(v, result.x, names))
        involved.update(j for j in range(n) if abs(v[j]) >= NULL_COMPONENT)
    params = _ids(names, sorted(involved))
    ratio = cov.singular_values[-1] / cov.singular_values[0] if cov.singular_values[0] else 0.0
    if all(c.startswith("nothing about") for c in combos):
        what = "the data determine " + _join(combos)
    else:
        what = "only " + _join(combos) + (" is" if len(combos) == 1 else " are") + " determined"
    return [Finding(
        "rank_deficient", "error",
        f"The Jacobian has rank {cov.rank} < {n} at the solution: {what}.",
        params,
        "Fix or remove one parameter of each combination, or reparametrise the model; the "
        "covariance is the pseudo-inverse and is flagged.",
        value=float(ratio), threshold=float(cov.rcond))]


def check_conditioning(result: FitResult, names=None) -> list[Finding]:
    """``ill_conditioned``: full rank but cond(J D^-1) > ``COND_LIMIT`` (D = column norms)."""
    J = np.asarray(result.jac, dtype=float)
    norms = _column_norms(J)
    if np.any(norms == 0) or not np.all(np.isfinite(J)) or np.any(_zero_columns(result)):
        return []  # a zero column: rank_deficient and parameter_not_moved say it
    _, s, Vt = np.linalg.svd(J / norms, full_matrices=False)

    if s[-1] <= default_rcond(result) * s[0]:
        return []  # rank deficient: reported by check_rank
    cond = float(s[0] / s[-1])
    if cond <= COND_LIMIT:
        return []
    v = Vt[-1]
    idx = [j for j in range(v.size) if abs(v[j]) >= NULL_COMPONENT]
    return [Finding(
        "ill_conditioned", "warning",
        f"The column-scaled Jacobian has condition number {cond:.3g} (threshold "
        f"{COND_LIMIT:.2g}): about {np.log10(cond):.0f} of 16 digits are lost, mostly in "
        f"{_join([_label(names, j) for j in idx])}.",
        _ids(names, idx),
        "Rescale or reparametrise the model (centre x, use differences or logs of "
        "parameters); read the standard errors of these parameters with care.",
        value=cond, threshold=COND_LIMIT)]


#: Rows per block of :func:`_unit_gram` for a large Jacobian.
GRAM_BLOCK = 8192


def _unit_gram(J: np.ndarray, safe: np.ndarray, large: bool) -> np.ndarray:
    """``U^T U`` with ``U = J diag(1/safe)`` (the columns' cosines); a large ``J`` a block of
    rows at a time, without the m x n ``U``."""
    if not large:
        unit = J / safe
        return unit.T @ unit
    gram = np.zeros((J.shape[1], J.shape[1]))
    for start in range(0, J.shape[0], GRAM_BLOCK):
        block = J[start:start + GRAM_BLOCK] / safe
        gram += block.T @ block
    return gram


def exchangeable_pairs(J: np.ndarray) -> list[tuple[int, int]]:
    """Pairs ``(i, j)``, ``i < j``, whose columns are equal up to sign (see the module table of
    :mod:`trustfit.analysis.diagnostics`): ``1 - |cos| <= EXCHANGE_COS`` and norms within a
    factor ``EXCHANGE_NORM``. One product ``unit^T unit`` (O(m n^2)) and O(n^2) vectorized
    comparisons: no Python loop over the pairs (13 s at n = 5000 with one)."""
    J = np.asarray(J, dtype=float)
    large = J.size > LARGE
    norms = column_norms(J) if large else _column_norms(J)
    with np.errstate(all="ignore"):
        cos = _unit_gram(J, np.where(norms > 0, norms, 1.0), large)
        close = (1.0 - np.abs(cos)) <= EXCHANGE_COS  # False where cos is not finite
        np.fill_diagonal(close, False)
        if not close.any():  # the common case: no two columns alike, nothing more to compare
            return []
        big, small = np.maximum.outer(norms, norms), np.minimum.outer(norms, norms)
        close &= big <= EXCHANGE_NORM * small
    close &= (norms > 0)[:, None] & (norms > 0)[None, :]
    i, j = np.nonzero(np.triu(close, k=1))  # row-major: the order of the former double loop
    return [(int(a), int(b)) for a, b in zip(i, j)]


def check_exchangeable(result: FitResult, names=None) -> list[Finding]:
    """``exchangeable_parameters``: columns equal up to sign (``1 - |cos| <= 1e-4``, norms
    within a factor 1.1)."""
    pairs = exchangeable_pairs(result.jac)
    if not pairs:
        return []
    involved = sorted({k for p in pairs for k in p})
    text = _join([f"({_label(names, i)}, {_label(names, j)})" for i, j in pairs])
    return [Finding(
        "exchangeable_parameters", "warning",
        f"The Jacobian columns of {text} are equal up to sign, so the fit cannot tell the "
        f"parameters of {'each pair' if len(pairs) > 1 else 'the pair'} apart: a symmetric "
        "point where Gauss-Newton-type methods stall.",
        _ids(names, involved),
        "Start from a point where they differ (rescue=True does this), or if the model is "
        "symmetric in them, order them with bounds or fix one.",
        value=float(len(pairs)), threshold=EXCHANGE_COS)]


def parameter_scale(result: FitResult) -> np.ndarray:
    """The size of each parameter (:func:`trustfit.core.stopping.parameter_scale`)."""
    return stopping.parameter_scale(result.x, result.x0)


def _column_signal(result: FitResult) -> np.ndarray:
    """Each column's effect over its error (:func:`trustfit.core.stopping.column_signal`, with the
    accuracy of the Jacobian the result holds)."""
    return stopping.column_signal(np.asarray(result.jac, dtype=float), result.x, result.x0,
                                  stopping.jacobian_noise(result.jac_method),
                                  np.asarray(result.fun, dtype=float))


def _zero_columns(result: FitResult) -> np.ndarray:
    """Mask of the columns ``check_not_moved`` calls zero (shared with the certificate)."""
    return _column_signal(result) <= ZERO_COLUMN


def check_not_moved(result: FitResult, names=None) -> list[Finding]:
    """``parameter_not_moved``: a zero Jacobian column, one whose effect is within
    ``ZERO_COLUMN`` times the Jacobian's own error (:func:`trustfit.core.stopping.zero_columns`).
    Free of the units of the data and of each parameter: parameters of very different sizes
    (NIST Hahn1: 1e-9 next to 1) are not mistaken for unused ones, nor an offset that starts
    at 0 beside data of size 1e10."""
    signal = _column_signal(result)
    zero = [int(j) for j in np.flatnonzero(signal <= ZERO_COLUMN)]
    if not zero:
        return []
    labels = [_label(names, j) for j in zero]
    still = []
    if result.x0 is not None:
        still = [_label(names, j) for j in zero if result.x[j] == result.x0[j]]
    tail = f"; {_join(still)} never moved from the start" if still else ""
    plural = len(zero) > 1
    return [Finding(
        "parameter_not_moved", "warning",
        f"The residuals do not depend on {_join(labels)} at the solution (Jacobian "
        f"column{'s' if plural else ''} zero), so the fit cannot move "
        f"{'them' if plural else 'it'}{tail}.",
        _ids(names, zero),
        "Check that the model uses this parameter, and start where it matters (e.g. a "
        "non-zero amplitude); rescue=True restarts from perturbed points.",
        value=float(max(signal[j] for j in zero)), threshold=ZERO_COLUMN)]


def exact_fit(result: FitResult) -> bool:
    """Residuals at most ``EXACT_FIT`` times the size of the linearised model's terms
    ``|| |J| |x| ||`` (:func:`trustfit.core.stopping.exact_fit`, with this layer's looser cutoff)."""
    J = result.jac if is_large(result.jac) else np.asarray(result.jac, dtype=float)
    return stopping.exact_fit(J, np.asarray(result.fun), np.asarray(result.x, dtype=float),
                              EXACT_FIT)


def gauss_newton_fraction(result: FitResult) -> float:
    """``||P_J r||^2 / ||r||^2``: the fraction of the cost a Gauss-Newton step would remove
    under the linear model, over the free parameters (0 at a stationary point)."""
    if is_large(result.jac):  # sparse or an operator: by LSQR, no dense SVD
        return iterative_gauss_newton_fraction(result)
    J = np.asarray(result.jac, dtype=float)
    r = np.asarray(result.fun, dtype=float)
    # Free parameters with a non-zero column (a "zero" column, see check_not_moved, can be
    # finite-difference noise, which column scaling would blow up to a unit vector).
    free = (np.asarray(result.active_mask) == 0) & ~_zero_columns(result)
    rr = float(r @ r)
    if not free.any() or rr == 0.0 or not (np.all(np.isfinite(J)) and np.all(np.isfinite(r))):
        return 0.0
    Jf = J[:, free]
    norms = np.linalg.norm(Jf, axis=0)
    Jf = Jf[:, norms > 0] / norms[norms > 0]
    if Jf.shape[1] == 0:
        return 0.0
    U, s, _ = np.linalg.svd(Jf, full_matrices=False)
    # Only directions the Jacobian resolves to half the digits: along a direction with a
    # smaller singular value the Gauss-Newton step is huge and its linear model meaningless
    # (at an exactly symmetric saddle such a direction is rounding noise).
    U = U[:, s > s[0] * max(EPS ** 0.5, EPS * max(Jf.shape))]
    p = U.T @ r
    return float(p @ p) / rr


def _which_test(result: FitResult) -> str:
    if result.stop_reason.converged:
        return f" on the {result.stop_reason.name.lower()} test"
    fired = next((e for e in result.events if isinstance(e, StopTestFired)), None)
    return "" if fired is None else f" on the {fired.test.name.lower()} test"


def check_stationary(result: FitResult, names=None) -> list[Finding]:
    """``not_stationary``: stopped ``STALLED``, or converged by a test yet a Gauss-Newton step
    would still remove more than ``STATIONARY`` of the cost (and the fit is not exact)."""
    with np.errstate(all="ignore"):
        return _check_stationary(result, names)


def _check_stationary(result: FitResult, names=None) -> list[Finding]:
    stalled = result.stop_reason is StopReason.STALLED
    if not (stalled or result.stop_reason.converged) or exact_fit(result):
        return []
    frac = gauss_newton_fraction(result)
    # STALLED is the solver's verdict, with its own (stricter) limit on the share of the
    # residual in the range of J: stopping.STATIONARY_LIMIT, squared for a share of the cost.
    # Measured here without zero (noise) columns, it may not confirm the verdict: then the
    # finding that explains the stop is parameter_not_moved, not this one.
    threshold = STATIONARY_LIMIT ** 2 if stalled else STATIONARY
    if frac <= threshold:
        return []
    return [Finding(
        "not_stationary", "error",
        f"The fit stopped{_which_test(result)}, but a Gauss-Newton step from there would "
        f"still remove {100 * frac:.3g}% of the cost (threshold {100 * threshold:.2g}%): "
        "this is not a minimum.",
        (), "Rescale the parameters (x_scale='jac'), start closer, or tighten xtol/ftol; "
        "the step became small because the damping grew, not because the fit converged.",
        value=frac, threshold=threshold)]

