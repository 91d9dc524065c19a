"""Levenberg-Marquardt on a structured linearization: the loop of every fit kind, written once.

Orthogonal distance regression (:mod:`.odr_loop`) and global fits (:mod:`.global_loop`)
never form their Jacobian as one matrix: each has a linearization that eliminates a block of
variables (the corrections to x; each data set's local parameters) and gives the exact dense
step in far less time. What a step needs from it is small (:class:`StructuredLinearization`),
and everything else is this loop, the core loop's (:mod:`trustfit.core.loop`) with the core's
functions and constants:

* the step: Levenberg-Marquardt with Nielsen's damping rule
  (:func:`trustfit.steps.damped.nielsen_update`, stop at ``MU_LIMIT``), ``mu_0 = tau`` in
  variables scaled by Moré's rule (``D`` = the running maximum of the Jacobian's column
  norms over every variable, :class:`trustfit.core.scaling.Scaling`'s ``'jac'``), so the
  path, not only the decisions, is the same in any units of the data and of the parameters;
* bounds: an active set (a variable on its bound with the gradient pushing out is held for
  the iteration, :func:`trustfit.core.vocabulary.free_variables`) and the trial projected
  onto the box;
* acceptance: the gain ratio ``rho = actual / predicted > 0`` computed with the step actually
  taken (``trial - x``, after the projection and its rounding), as every trustfit method; a
  trial with non-finite residuals or Jacobian is a rejected step (a point trustfit chose is
  never the user's fault);
* stopping: MINPACK's gradient cosine over every free column, the per-variable step test
  (Dennis & Schnabel eq. 7.2.5, with :func:`trustfit.core.stopping.step_floor`'s floor
  ``||c x|| / c_j``), MINPACK's cost test and the rounding test
  (:mod:`trustfit.core.stopping`), budgets on evaluations and iterations;
* after a converged stop: fourth-order differences where the derivatives are not exact, the
  polish of :mod:`trustfit.solve.polish` (its constants: full Gauss-Newton steps kept while
  their scaled size shrinks by ``SHRINK`` and the cost does not rise above its rounding
  level ``COST_NOISE``), then the kind's certificate of the whole problem; a refused
  certificate replaces the stop and is recorded as a :class:`~trustfit.core.events.
  StopTestFired` event.

The residuals are in the solver's units: the kind divides them by a power of two ``2^e``
fixed at the start (exact; costs of 1e-300 or 1e300 neither under- nor overflow), and the
history is recorded in the user's units (costs and gradients times ``2^(2e)``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from ..core import stopping
from ..core.events import Event, StopTestFired
from ..core.result import IterationRecord, StopReason
from ..core.vocabulary import free_variables
from ..solve.polish import COST_NOISE, MAX_POLISH_STEPS, SHRINK
from ..steps.damped import MU_LIMIT, nielsen_update

EPS = float(np.finfo(float).eps)


class StructuredLinearization(Protocol):
    """The residuals and Jacobian at one point, every vector over all the variables (flat),
    in the solver's units. The Jacobian itself is never asked for."""

    @property
    def cost(self) -> float:
        """``1/2 ||r||^2``."""

    @property
    def residual_norm(self) -> float:
        """``||r||``."""

    def column_norms(self) -> np.ndarray:
        """``||J_j||`` for every variable."""

    def gradient(self) -> np.ndarray:
        """``J^T r``."""

    def gradient_cosine(self) -> float:
        """MINPACK's ``max_j |J_j . r| / (||J_j|| ||r||)`` over every column."""

    def damped_step(self, mu: float, D: np.ndarray, held: np.ndarray) -> np.ndarray:
        """The LM step minimising ``||r + J h||^2 + mu ||D h||^2``, the ``held`` ones 0."""

    def predicted_reduction(self, h: np.ndarray) -> float:
        """``L(0) - L(h) = -r.Jh - 1/2 ||Jh||^2`` of the Gauss-Newton model."""

    def gauss_newton_step(self, noise: float, held: np.ndarray) -> np.ndarray:
        """The minimum-norm Gauss-Newton step, rank decided with the cut-off ``noise``."""


L = TypeVar("L", bound=StructuredLinearization)


class StructuredProblem(Protocol[L]):
    """What the loop asks of a fit kind: evaluations at a point ``x`` (flat, every variable)
    and linearizations there. ``state`` is the kind's own record of an evaluation (what
    its linearization is built from), opaque to the loop."""

    #: the exponent ``e`` of the residuals' scale ``2^e``
    e: int
    #: the derivatives are exact (no fourth-order refinement before the polish)
    exact: bool
    #: the box, flat (infinite where there is no bound)
    lb: np.ndarray
    ub: np.ndarray
    #: ``(state, linearization)`` at ``x0``, which the loop takes and clears: the problem
    #: keeps no reference, so the start's residuals are freed when the run moves on (on a
    #: 65,536-pixel global fit they are 134 MB)
    start: tuple[Any, L] | None

    @property
    def nfev(self) -> int:
        """Model evaluations so far (the budget counts their increase)."""

    def evaluate(self, x: np.ndarray) -> tuple[Any, float, bool]:
        """``(state, cost, finite)`` at ``x``: cost in the solver's units, ``finite`` false
        when any residual is not finite."""

    def linearize(self, x: np.ndarray, state: Any, refined: bool) -> L | None:
        """The linearization at an evaluated point (``refined``: fourth-order differences);
        ``None`` when its derivatives are not finite."""

    def norm(self, v: np.ndarray) -> float:
        """The Euclidean norm the kind uses for its vectors."""

    def parameters(self, v: np.ndarray) -> np.ndarray:
        """The part of a flat vector the history reports (the user's parameters)."""

    def certify(self, lin: L, x: np.ndarray, tolerance: float, noise: float,
                held: np.ndarray) -> tuple[StopReason | None, float, Any]:
        """The certificate of a converged stop: ``(None or the refusing reason, its
        measure, the kind's detail)``."""


@dataclass(frozen=True)
class StructuredRun(Generic[L]):
    """The run's end: the point ``x``, its ``state`` and linearization ``lin``, the cost in
    the solver's units, the stop, the counts (``nfev`` since the start), the history, the
    events, whether the derivatives were ``refined`` for the polish, the Jacobian's relative
    ``noise`` and the certificate's ``detail``."""

    x: np.ndarray
    state: Any
    lin: L
    cost: float
    stop_reason: StopReason
    stop_value: float
    nit: int
    nfev: int
    history: tuple
    events: tuple
    refined: bool
    noise: float
    detail: Any = None


def run(problem: StructuredProblem[L], x0: np.ndarray, *, nfev0: int, noise: float,
        ftol: float | None, xtol: float | None, gtol: float | None, max_nfev: int | None,
        max_iter: int | None, tau: float, rounding: float) -> StructuredRun[L]:
    """One Levenberg-Marquardt run from ``x0`` (its evaluation and linearization:
    ``problem.start``), the budget counted from ``nfev0`` (module docstring)."""
    with np.errstate(all="ignore"):
        return _run(problem, x0, nfev0, noise, ftol, xtol, gtol, max_nfev, max_iter, tau,
                    rounding)


def _run(problem, x0, nfev0, noise, ftol, xtol, gtol, max_nfev, max_iter, tau,
         rounding) -> StructuredRun:
    (state, lin), problem.start = problem.start, None  # no local keeps the start alive
    lb, ub = problem.lb, problem.ub
    bounded = bool(np.any(np.isfinite(lb)) or np.any(np.isfinite(ub)))
    x = x0.copy()
    seen = lin.column_norms().copy()
    mu, nu = tau, 2.0
    history: list[IterationRecord] = []
    nit, cost = 0, lin.cost
    while True:
        D = np.where(seen > 0, seen, 1.0)
        held = ~free_variables(x, lin.gradient(), lb, ub)
        reason, value = stopping.gradient_test(_free_cosine(lin, held), gtol)
        if reason is None:
            reason, value = stopping.budget_test(problem.nfev - nfev0, max_nfev, nit, max_iter)
        if reason is not None:
            break
        h = lin.damped_step(mu, D, held)
        if not np.all(np.isfinite(h)):
            reason, value = StopReason.NO_PROGRESS, mu
            break
        reason, value = stopping.step_test(h, x, xtol, _step_floor(problem, lin, x))
        if reason is not None:
            break
        nit += 1
        cost_before = cost
        trial = np.clip(x + h, lb, ub) if bounded else x + h
        taken = trial - x
        state_new, cost_new, finite = problem.evaluate(trial)
        finite = finite and math.isfinite(cost_new)
        predicted = lin.predicted_reduction(taken)
        actual = cost - cost_new if finite else -math.inf
        rho = actual / predicted if predicted > 0 else (1.0 if actual > 0 else -math.inf)
        accepted = finite and rho > 0.0
        note = "" if finite else "non-finite residuals"
        if accepted:
            new = problem.linearize(trial, state_new, False)
            if new is not None:
                x, state, lin, cost = trial, state_new, new, cost_new
                seen = np.maximum(seen, lin.column_norms())
            else:
                accepted, rho, note = False, -math.inf, "non-finite Jacobian at the trial point"
        mu_used = mu
        mu, nu = nielsen_update(mu, nu, rho if accepted else -math.inf)
        cost_reason, cost_value = stopping.cost_test(actual, predicted, cost_before, ftol)
        if cost_reason is None:
            cost_reason, cost_value = stopping.rounding_test(actual, predicted, cost_before,
                                                             rounding)
        history.append(_record(problem, nit, x, cost, lin, taken, "LM", accepted,
                               problem.nfev - nfev0, note, mu=mu_used, rho=rho))
        if cost_reason is not None:
            reason, value = cost_reason, cost_value
            break
        if not mu < MU_LIMIT:
            reason, value = StopReason.NO_PROGRESS, mu
            break

    events: list[Event] = []
    refined, detail = False, None
    if reason.converged:
        if not problem.exact:  # fourth-order differences for the polish and the certificate
            better = problem.linearize(x, state, True)
            if better is not None:
                lin, refined = better, True
                noise = stopping.jacobian_noise("5-point")
        x, state, lin, cost, steps = _polish(problem, x, state, lin, cost, noise, nfev0,
                                             max_nfev, D, nit, history, refined)
        nit += steps
        tolerance = {StopReason.GRADIENT: gtol, StopReason.STEP: xtol,
                     StopReason.COST: ftol}.get(reason) or 0.0
        held = ~free_variables(x, lin.gradient(), lb, ub)
        uncertified, measure, detail = problem.certify(lin, x, tolerance, noise, held)
        if uncertified is not None:
            events.append(StopTestFired(reason, nit, value, uncertified))
            reason, value = uncertified, measure
    return StructuredRun(x=x, state=state, lin=lin, cost=cost, stop_reason=reason,
                         stop_value=value, nit=nit, nfev=problem.nfev - nfev0,
                         history=tuple(history), events=tuple(events), refined=refined,
                         noise=noise, detail=detail)


def _free_cosine(lin: StructuredLinearization, held: np.ndarray) -> float:
    """The gradient cosine over the free columns (every column when none is held)."""
    if not np.any(held):
        return lin.gradient_cosine()
    rn = lin.residual_norm
    if rn == 0.0:
        return 0.0
    c = lin.column_norms()
    with np.errstate(all="ignore"):
        cos = np.where(held | (c == 0), 0.0, np.abs(lin.gradient()) / np.where(c > 0, c, 1.0))
    return float(np.max(cos, initial=0.0)) / rn


def _step_floor(problem: StructuredProblem, lin: StructuredLinearization,
                x: np.ndarray) -> np.ndarray:
    """:func:`trustfit.core.stopping.step_floor` over every variable: the size of the whole
    vector in each variable's units, ``||c x|| / c_j`` (``c`` the column norms)."""
    c = lin.column_norms()
    with np.errstate(all="ignore"):
        return np.where(c > 0, problem.norm(c * x) / np.where(c > 0, c, 1.0), np.inf)


def _record(problem, nit, x, cost, lin, step, kind, accepted, nfev, note, mu=math.nan,
            rho=math.nan) -> IterationRecord:
    e = problem.e
    return IterationRecord(
        iteration=nit, x=problem.parameters(x).copy(), cost=float(np.ldexp(cost, 2 * e)),
        grad_norm=float(np.ldexp(np.max(np.abs(problem.parameters(lin.gradient())),
                                        initial=0.0), 2 * e)),
        step_norm=problem.norm(step), step_kind=kind, accepted=accepted, mu=mu, rho=rho,
        nfev=nfev, note=note)


def _at_rounding(problem, lin, x: np.ndarray, h: np.ndarray) -> bool:
    """Every component of the step at the rounding level of its variable (the polish's stop
    in :mod:`trustfit.solve.polish`)."""
    return bool(np.all(np.abs(h) <= EPS * (np.abs(x) + _step_floor(problem, lin, x))))


def _polish(problem, x, state, lin, cost, noise, nfev0, max_nfev, D, nit, history, refined):
    """Gauss-Newton steps of the whole problem while they shrink (module docstring); returns
    the kept point and the number of steps taken."""
    lb, ub = problem.lb, problem.ub
    bounded = bool(np.any(np.isfinite(lb)) or np.any(np.isfinite(ub)))

    def gauss_newton(at_lin, at_x):
        return at_lin.gauss_newton_step(noise, ~free_variables(at_x, at_lin.gradient(), lb, ub))

    h = gauss_newton(lin, x)
    size = problem.norm(D * h)
    steps = 0
    for _ in range(MAX_POLISH_STEPS):
        if not math.isfinite(size) or size == 0.0 or _at_rounding(problem, lin, x, h):
            break
        if max_nfev is not None and problem.nfev - nfev0 >= max_nfev:
            break
        trial = np.clip(x + h, lb, ub) if bounded else x + h
        state_new, cost_new, finite = problem.evaluate(trial)
        if not (finite and math.isfinite(cost_new)) or cost_new > cost * (1.0 + COST_NOISE):
            break
        new = problem.linearize(trial, state_new, refined)
        if new is None:
            break
        h_new = gauss_newton(new, trial)
        size_new = problem.norm(D * h_new)
        accepted = size_new <= SHRINK * size or (size_new < size and cost_new < cost)
        steps += 1
        history.append(_record(problem, nit + steps, trial if accepted else x,
                               cost_new if accepted else cost, new if accepted else lin,
                               trial - x, "GN", accepted, problem.nfev - nfev0, "polish"))
        if not accepted:
            break
        x, state, lin, cost = trial, state_new, new, cost_new
        h, size = h_new, size_new
    return x, state, lin, cost, steps
