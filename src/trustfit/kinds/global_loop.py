"""The Levenberg-Marquardt loop of a global fit, every decision the core's own.

As :mod:`.odr_loop` for orthogonal distance regression, this is the core loop
(:mod:`trustfit.core.loop`) for a problem whose Jacobian is never one matrix; the steps come
from :mod:`.global_linalg` (each data set's local parameters eliminated, the exact dense LM
step in time linear in the number of data sets), and every decision uses the core's
functions and constants:

* the step: Levenberg-Marquardt with Nielsen's damping rule
  (:func:`trustfit.steps.damped.nielsen_update`), ``mu_0 = tau`` in variables scaled by
  Moré's rule (``D`` = the running maximum of the column norms), as :mod:`.odr_loop`: the
  path, not only the decisions, is the same in any units of the data and of the parameters
  (amplitudes of 1e3 beside lifetimes of 1e-9 s). Measured: with ``D = I`` (the core LM's
  ``x_scale=1``) a far start that stalls here converged, but the same fit with y, sigma and
  the amplitudes' start multiplied by 1e10 stalled; with Moré's scaling both runs take the
  same path. A stall is reported as such (``STALLED``), never as a success;
* bounds: an active set (a variable on its bound with the gradient pushing out is held for
  the iteration) and the trial projected onto the box, the gain ratio computed with the step
  actually taken, as every trustfit method;
* acceptance: the gain ratio ``rho > 0``; a trial with non-finite residuals or Jacobian is a
  rejected step (a point trustfit chose is never the user's fault);
* stopping: MINPACK's gradient cosine over every column, the per-variable step test
  (Dennis & Schnabel eq. 7.2.5), MINPACK's cost test and the rounding test
  (:mod:`trustfit.core.stopping`), budgets on evaluations and iterations;
* residuals divided by a power of two fixed at the start (exact; costs of 1e-300 or 1e300
  neither under- nor overflow);
* after a converged stop, the polish of :mod:`trustfit.solve.polish` (its constants), with
  fourth-order differences where the model has no Jacobian, then the certificate of
  :mod:`.global_certify` on the whole problem.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core import stopping
from ..core.events import Event, StopTestFired
from ..core.result import IterationRecord, StopReason
from ..core.vocabulary import free_variables
from ..solve.polish import COST_NOISE, MAX_POLISH_STEPS, SHRINK
from ..steps.damped import MU_LIMIT, nielsen_update
from .global_certify import certify
from .global_linalg import Linearization
from .global_problem import GlobalProblem

EPS = float(np.finfo(float).eps)


class NonFiniteGlobalStart(ValueError):
    """The model or its derivatives are not finite at the caller's start."""


@dataclass(frozen=True)
class GlobalRun:
    """What the loop returns (solver internals for the face to build the result from):
    ``theta``, the residuals per group (user units), the final linearization, the stop,
    the counts, the history and the events; ``degenerate_sets``: data sets whose own local
    block made the stop degenerate."""

    theta: np.ndarray
    theta0: np.ndarray
    residuals: list
    lin: Linearization
    cost: float
    stop_reason: StopReason
    stop_value: float
    nit: int
    nfev: int
    njev: int
    nfev_fd: int
    history: tuple
    events: tuple
    jac_method: str
    noise: float
    degenerate_sets: tuple[int, ...] = ()


def _norm(v: np.ndarray) -> float:
    """``||v||`` by einsum: a threaded level-1 BLAS ``dot`` on 2e5 numbers costs tens of
    milliseconds on a loaded machine (as :func:`.odr_linalg.dot` notes), einsum microseconds."""
    v = np.ravel(v)
    return math.sqrt(float(np.einsum("i,i->", v, v)))


def _power_of_two(r: list[np.ndarray]) -> int:
    top = max(float(np.max(np.abs(a), initial=0.0)) for a in r)
    return math.frexp(top)[1] if top > 0.0 and math.isfinite(top) else 0


def _scaled(r: list[np.ndarray], e: int) -> list[np.ndarray]:
    """``r 2^-e``, in place (exact; the arrays are this loop's own)."""
    return [np.ldexp(a, -e, out=a) for a in r]


def _cost(r: list[np.ndarray]) -> float:
    with np.errstate(all="ignore"):
        total = 0.5 * sum(float(np.einsum("gm,gm->", a, a)) for a in r)
    return total if math.isfinite(total) else math.inf


def _step_floor(lin: Linearization, theta: np.ndarray) -> np.ndarray:
    c = lin.column_norms()
    with np.errstate(all="ignore"):
        return np.where(c > 0, _norm(c * theta) / np.where(c > 0, c, 1.0),
                        np.inf)


def run(problem: GlobalProblem, theta0: np.ndarray, lb: np.ndarray, ub: np.ndarray, *,
        ftol: float | None, xtol: float | None, gtol: float | None, max_nfev: int | None,
        max_iter: int | None, tau: float, rounding: float) -> GlobalRun:
    """One Levenberg-Marquardt run from ``theta0`` (module docstring)."""
    with np.errstate(all="ignore"):
        return _run(problem, theta0, lb, ub, ftol, xtol, gtol, max_nfev, max_iter, tau,
                    rounding)


def _run(problem, theta0, lb, ub, ftol, xtol, gtol, max_nfev, max_iter, tau, rounding):
    theta = theta0.copy()
    r_user = problem.residuals(theta)
    bad = [int(k) for g, a in zip(problem.groups, r_user)
           for k in g.members[~np.all(np.isfinite(a), axis=1)]]
    if bad:
        raise NonFiniteGlobalStart(
            f"the model is not finite at p0 in the data sets {sorted(bad)[:10]}"
            f"{' ...' if len(bad) > 10 else ''}; the start must give finite values everywhere.")
    e = _power_of_two(r_user)
    r = _scaled(r_user, e)  # r_user is scaled in place: one copy of the residuals
    lin = Linearization(problem, theta, r, e)
    if not lin.finite:
        raise NonFiniteGlobalStart("the derivatives of the model are not finite at p0.")
    noise = stopping.jacobian_noise("exact" if problem.exact else "3-point")
    bounded = bool(np.any(np.isfinite(lb)) or np.any(np.isfinite(ub)))
    seen = lin.column_norms().copy()
    mu, nu = tau, 2.0
    history: list[IterationRecord] = []
    nit, cost = 0, lin.cost
    nfev0 = problem.nfev
    while True:
        D = np.where(seen > 0, seen, 1.0)
        held = ~free_variables(theta, lin.gradient(), lb, ub)
        reason, value = stopping.gradient_test(_free_cosine(lin, held), gtol)
        if reason is None:
            reason, value = stopping.budget_test(problem.nfev - nfev0, max_nfev, nit, max_iter)
        if reason is not None:
            break
        h = lin.damped_step(mu, D, held)
        if not np.all(np.isfinite(h)):
            reason, value = StopReason.NO_PROGRESS, mu
            break
        reason, value = stopping.step_test(h, theta, xtol, _step_floor(lin, theta))
        if reason is not None:
            break
        nit += 1
        cost_before = cost
        trial = np.clip(theta + h, lb, ub) if bounded else theta + h
        taken = trial - theta
        r_new = _scaled(problem.residuals(trial), e)
        cost_new = _cost(r_new)
        finite = math.isfinite(cost_new) and all(bool(np.all(np.isfinite(a))) for a in r_new)
        predicted = lin.predicted_reduction(taken)
        actual = cost - cost_new if finite else -math.inf
        rho = actual / predicted if predicted > 0 else (1.0 if actual > 0 else -math.inf)
        accepted = finite and rho > 0.0
        note = "" if finite else "non-finite residuals"
        if accepted:
            new = Linearization(problem, trial, r_new, e)
            if new.finite:
                theta, r, lin, cost = trial, r_new, new, cost_new
                seen = np.maximum(seen, lin.column_norms())
            else:
                accepted, rho, note = False, -math.inf, "non-finite Jacobian at the trial point"
        mu_used = mu
        mu, nu = nielsen_update(mu, nu, rho if accepted else -math.inf)
        cost_reason, cost_value = stopping.cost_test(actual, predicted, cost_before, ftol)
        if cost_reason is None:
            cost_reason, cost_value = stopping.rounding_test(actual, predicted, cost_before,
                                                             rounding)
        history.append(_record(nit, theta, cost, lin, e, taken, "LM", accepted, problem.nfev
                               - nfev0, note, mu=mu_used, rho=rho))
        if cost_reason is not None:
            reason, value = cost_reason, cost_value
            break
        if not mu < MU_LIMIT:
            reason, value = StopReason.NO_PROGRESS, mu
            break

    events: list[Event] = []
    jac_method = problem.jac_method
    degenerate: tuple[int, ...] = ()
    if reason.converged:
        if not problem.exact:  # fourth-order differences for the polish and the certificate
            refined = Linearization(problem, theta, r, e, refined=True)
            if refined.finite:
                lin, jac_method = refined, "5-point"
                noise = stopping.jacobian_noise("5-point")
        theta, r, lin, cost, steps = _polish(problem, theta, r, lin, cost, e, noise, nfev0,
                                             max_nfev, lb, ub, D, nit, history,
                                             jac_method == "5-point")
        nit += steps
        tolerance = {StopReason.GRADIENT: gtol, StopReason.STEP: xtol,
                     StopReason.COST: ftol}.get(reason) or 0.0
        held = ~free_variables(theta, lin.gradient(), lb, ub)
        uncertified, measure, degenerate = certify(lin, theta, theta0, tolerance, noise, held)
        if uncertified is not None:
            events.append(StopTestFired(reason, nit, value, uncertified))
            reason, value = uncertified, measure
    return GlobalRun(theta=theta, theta0=theta0.copy(), residuals=[np.ldexp(a, e, out=a) for a in r],
                     lin=lin, cost=float(np.ldexp(cost, 2 * e)), stop_reason=reason,
                     stop_value=value, nit=nit, nfev=problem.nfev - nfev0, njev=problem.njev,
                     nfev_fd=problem.nfev_fd, history=tuple(history), events=tuple(events),
                     jac_method=jac_method, noise=noise, degenerate_sets=degenerate)


def _free_cosine(lin: Linearization, held: np.ndarray) -> float:
    if not np.any(held):
        return lin.gradient_cosine()
    rn = lin.residual_norm
    if rn == 0.0:
        return 0.0
    c = lin.column_norms()
    with np.errstate(all="ignore"):
        cos = np.where(held | (c == 0), 0.0, np.abs(lin.gradient()) / np.where(c > 0, c, 1.0))
    return float(np.max(cos, initial=0.0)) / rn


def _record(nit, theta, cost, lin, e, step, kind, accepted, nfev, note, mu=math.nan,
            rho=math.nan) -> IterationRecord:
    return IterationRecord(
        iteration=nit, x=theta.copy(), cost=float(np.ldexp(cost, 2 * e)),
        grad_norm=float(np.ldexp(np.max(np.abs(lin.gradient()), initial=0.0), 2 * e)),
        step_norm=_norm(step), step_kind=kind, accepted=accepted, mu=mu,
        rho=rho, nfev=nfev, note=note)


def _at_rounding(lin: Linearization, theta: np.ndarray, h: np.ndarray) -> bool:
    return bool(np.all(np.abs(h) <= EPS * (np.abs(theta) + _step_floor(lin, theta))))


def _polish(problem, theta, r, lin, cost, e, noise, nfev0, max_nfev, lb, ub, D, nit, history,
            refined):
    """Gauss-Newton steps of the whole problem while they shrink (as
    :mod:`trustfit.solve.polish` and :func:`.odr_loop._polish`); returns the kept point."""
    bounded = bool(np.any(np.isfinite(lb)) or np.any(np.isfinite(ub)))

    def gn(at_lin, at_theta):
        held = ~free_variables(at_theta, at_lin.gradient(), lb, ub)
        return at_lin.gauss_newton(noise, held)[0]

    h = gn(lin, theta)
    size = _norm(D * h)
    steps = 0
    for _ in range(MAX_POLISH_STEPS):
        if not math.isfinite(size) or size == 0.0 or _at_rounding(lin, theta, h):
            break
        if max_nfev is not None and problem.nfev - nfev0 >= max_nfev:
            break
        trial = np.clip(theta + h, lb, ub) if bounded else theta + h
        r_new = _scaled(problem.residuals(trial), e)
        cost_new = _cost(r_new)
        if not math.isfinite(cost_new) or cost_new > cost * (1.0 + COST_NOISE):
            break
        new = Linearization(problem, trial, r_new, e, refined)
        if not new.finite:
            break
        h_new = gn(new, trial)
        size_new = _norm(D * h_new)
        accepted = size_new <= SHRINK * size or (size_new < size and cost_new < cost)
        steps += 1
        history.append(_record(nit + steps, trial if accepted else theta,
                               cost_new if accepted else cost, new if accepted else lin, e,
                               trial - theta, "GN", accepted, problem.nfev - nfev0, "polish"))
        if not accepted:
            break
        theta, r, lin, cost = trial, r_new, new, cost_new
        h, size = h_new, size_new
    return theta, r, lin, cost, steps
