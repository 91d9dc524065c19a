"""Why a fit failed, or what to watch for, in words: findings computed from a :class:`FitResult`.

Every check is a pure function of the result (its Jacobian, residuals, stop reason, history,
bounds): nothing here re-runs the fit or evaluates the model. Each returns a list of
:class:`Finding` (empty when all is well) with the measured ``value`` and the ``threshold``
that decided it. The cutoffs, all stated here and in each function:

=========================  =====================================================================
code                       fires when
=========================  =====================================================================
``rank_deficient``         the Jacobian's numerical rank (singular values above
                           ``RANK_RCOND = eps * max(m, n)`` times the largest) is below ``n``;
                           names the undetermined combination from the SVD's null space
``ill_conditioned``        full rank, but the condition number of the column-scaled Jacobian
                           (columns of unit norm) exceeds ``COND_LIMIT = 1/sqrt(eps)`` (6.7e7,
                           the solver's own limit for certifying a stop: about half of the 16
                           digits are lost in the solution and its covariance)
``exchangeable_parameters`` two Jacobian columns are equal up to sign: parallel within
                           ``1 - |cos| <= EXCHANGE_COS = 1e-4`` and norms within a factor
                           ``EXCHANGE_NORM = 1.1``, so swapping the two parameters leaves the
                           linearised model unchanged (a symmetric point such as the textbook's
                           ``x1 = x2, x3 = x4``)
``parameter_not_moved``    a Jacobian column is zero: its effect ``||J_j|| s_j`` is within
                           ``ZERO_COLUMN = 100`` times the Jacobian's own error
                           (:func:`trustfit.core.stopping.zero_columns`: ``eps`` or the finite
                           differences' ``eps / h``, times the size of the model's terms)
``not_stationary``         the stop reason is ``STALLED``, or a convergence test fired but a
                           Gauss-Newton step from the final
                           point would still remove more than ``STATIONARY = 1e-4`` of the cost
                           (``||P_J r||^2 / ||r||^2``, P_J the projection onto the range of the
                           free, non-zero Jacobian columns with singular values above sqrt(eps)
                           of the largest: Bates & Watts' relative-offset criterion); for
                           ``STALLED`` the threshold is the solver's (``STATIONARY_LIMIT**2``);
                           not on an exact fit (``||r|| <= 1e-6 || |J| |x| ||``)
``bad_start``              at least half (and at least 3) of the trial steps gave non-finite
                           residuals (overflow), or the run never accepted a step and did not
                           converge
``line_search_failed``     the stop reason is ``LINE_SEARCH_FAILED``
``no_progress``            the stop reason is ``NO_PROGRESS`` (damping or radius at its limit)
``budget_exhausted``       the stop reason is ``MAX_NFEV`` or ``MAX_ITER``
``at_bound``               a parameter ends on a bound (``active_mask != 0``)
``large_residual``         not ``'hybrid'``, at least ``SLOW_MIN_STEPS = 6`` accepted steps, and
                           over the last ``SLOW_MIN_STEPS`` accepted steps the step length shrank
                           by a factor of at least ``SLOW_RATE = 0.5`` per step on average
                           (linear convergence, the mark of a large-residual problem), and the
                           residuals are not small: ``||r|| >= SMALL_RESIDUAL = 1e-4`` times
                           ``|| |J| |x| ||`` (slow convergence on a near-zero-residual fit has
                           other causes)
=========================  =====================================================================

A rank-deficient Jacobian with its combination named; a pseudo-inverse covariance is then
returned by :mod:`trustfit.analysis.uncertainty`, flagged, never a silent ``inf``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core import validate as check
from ..core.events import StopTestFired
from ..core.result import FitResult, StopReason
from ..core import stopping
from ..core.stopping import CONDITION_LIMIT as _CONDITION_LIMIT
from ..core.stopping import STATIONARY_LIMIT, ZERO_COLUMN
from ..core.sparse_linalg import is_large
from .iterative_diagnosis import iterative_findings, iterative_gauss_newton_fraction
from .uncertainty import covariance, default_rcond

EPS = float(np.finfo(float).eps)
#: The solver's own limit (:data:`trustfit.core.stopping.CONDITION_LIMIT`, 1/sqrt(eps) ~ 6.7e7):
#: beyond it a stop is not certified (``DEGENERATE``), and this finding says why.
COND_LIMIT = _CONDITION_LIMIT
EXCHANGE_COS = 1e-4
EXCHANGE_NORM = 1.1
SLOW_MIN_STEPS = 6
SLOW_RATE = 0.5
STATIONARY = 1e-4
SMALL_RESIDUAL = 1e-4
EXACT_FIT = 1e-6
#: Null-space components smaller than this (of a unit vector) are not named.
NULL_COMPONENT = 0.1
SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Finding:
    """One thing the diagnosis found: ``code`` (stable, for programs), ``severity``
    (``'error'``: the answer is wrong or undetermined; ``'warning'``: use with care;
    ``'info'``), a one-sentence ``message``, the ``parameters`` involved (names where the
    model has names, else indices), ``advice``, and the measured ``value`` against its
    ``threshold``."""

    code: str
    severity: str
    message: str
    parameters: tuple = ()
    advice: str = ""
    value: float = float("nan")
    threshold: float = float("nan")

    def __str__(self) -> str:
        return f"[{self.severity}] {self.code}: {self.message} {self.advice}".rstrip()


@dataclass(frozen=True)
class Diagnosis:
    """The findings of :func:`diagnose`, most severe first; iterable and indexable."""

    findings: tuple[Finding, ...] = field(default_factory=tuple)

    def __iter__(self):
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def __getitem__(self, i):
        return self.findings[i]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.findings)

    def get(self, code: str) -> Finding | None:
        return next((f for f in self.findings if f.code == code), None)

    def __str__(self) -> str:
        return "\n".join(str(f) for f in self.findings) or "No findings."

    def _repr_html_(self) -> str:
        from .html_parts import findings_html, wrap

        return wrap(f"Diagnosis: {len(self.findings)} finding(s)", findings_html(self.findings))


# --- naming -----------------------------------------------------------------------------------
def _names(result: FitResult, param_names: Sequence[str] | None) -> list[str] | None:
    if not isinstance(result, FitResult):
        raise TypeError(f"result must be a FitResult (from trustfit.least_squares or "
                        f"trustfit.fit), got {type(result).__name__}.")
    names = param_names if param_names is not None else result.param_names
    return check.param_names(names, result.x.size)


def _label(names: list[str] | None, j: int) -> str:
    return names[j] if names is not None else f"x[{j}]"


def _ids(names: list[str] | None, idx: Sequence[int]) -> tuple:
    return tuple(names[j] for j in idx) if names is not None else tuple(int(j) for j in idx)


def _join(words: Sequence[str]) -> str:
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _column_norms(J: np.ndarray) -> np.ndarray:
    return np.linalg.norm(J, axis=0)


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
            return log_form or linear
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
    combos, involved = [], set()
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


def exchangeable_pairs(J: np.ndarray) -> list[tuple[int, int]]:
    """Pairs ``(i, j)`` whose columns are equal up to sign (see the module table)."""
    J = np.asarray(J, dtype=float)
    norms = _column_norms(J)
    n = J.shape[1]
    pairs = []
    with np.errstate(all="ignore"):
        unit = J / np.where(norms > 0, norms, 1.0)
        cos = unit.T @ unit
    for i in range(n):
        for j in range(i + 1, n):
            if norms[i] == 0 or norms[j] == 0 or not np.isfinite(cos[i, j]):
                continue
            if (1.0 - abs(cos[i, j]) <= EXCHANGE_COS
                    and max(norms[i], norms[j]) <= EXCHANGE_NORM * min(norms[i], norms[j])):
                pairs.append((i, j))
    return pairs


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
