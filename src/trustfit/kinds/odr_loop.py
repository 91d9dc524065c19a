"""Orthogonal distance regression: the model's evaluations and the Levenberg-Marquardt loop.

The loop is the core loop's (:mod:`trustfit.core.loop`) for a problem whose Jacobian is never
formed as one matrix: the steps come from :mod:`.odr_linalg` (the corrections to x
eliminated, O(m n^2) per step), and every decision is the core's own, with the same
functions and constants:

* the step: Levenberg-Marquardt with Nielsen's damping rule
  (:func:`trustfit.steps.damped.nielsen_update`), ``mu_0 = tau`` in variables scaled by
  Moré's rule (``D`` = the running maximum of the Jacobian's column norms, for the parameters
  and for every correction: :class:`trustfit.core.scaling.Scaling`'s ``'jac'``), so the path
  does not depend on the units of x, y or the parameters;
* acceptance: the gain ratio ``rho > 0`` (:mod:`trustfit.globalize.trust_region`); a trial
  with non-finite residuals (the model undefined at a trial point) is a rejected step;
* stopping: MINPACK's gradient cosine over every column, the per-variable step test
  (Dennis & Schnabel eq. 7.2.5) over parameters and corrections, MINPACK's cost test and the
  rounding test (:mod:`trustfit.core.stopping`), budgets on evaluations and iterations;
* the residuals divided by a power of two fixed at the start
  (:class:`trustfit.core.scaling.ResidualScale`): exact, and costs of 1e-300 or 1e300 neither
  under- nor overflow;
* after a converged stop, the polish of :mod:`trustfit.solve.polish` (same constants): full
  Gauss-Newton steps kept while they shrink by ``SHRINK`` and the cost does not rise above its
  rounding level (``COST_NOISE``), since cost differences lose half the digits near a minimum
  and the gradient does not;
* a converged stop is certified on the full problem (:func:`.odr_linalg.certify`).

Derivatives: ``jac(x, *p)`` (m x n) and ``jac_x(x, *p)`` (``(m,)`` or ``(k, m)``) when given;
otherwise central differences, ``'3-point'`` with relative step ``s = eps^(1/3)``
(:mod:`trustfit.core.differentiation`) in the parameters, and in each x with step
``s max(|x_ij|, median_i |x_ij|)`` (the floor keeps a point near ``x = 0`` from a step far
below the rounding of ``f`` there): the model is evaluated pointwise, so one pair of
evaluations gives the whole column ``a_j``. The polish and the certificate use fourth-order
central differences (``'5-point'``, ``s = eps^(1/5)``, error about ``eps^(4/5)``), as the
core's polish does, so the covariance keeps about 12 digits.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..core import stopping
from ..core import validate as check
from ..core.events import Event, StopTestFired
from ..core.differentiation import DEFAULT_RELATIVE_STEP, finite_difference_jacobian
from ..core.problem import real_jacobian
from ..core.result import FitResult, IterationRecord, StopReason
from ..solve.polish import COST_NOISE, MAX_POLISH_STEPS, SHRINK
from ..steps.damped import MU_LIMIT, nielsen_update
from .odr_linalg import Linearization, certify, dot, norm

EPS = float(np.finfo(float).eps)


class OdrModel:
    """The user's model ``f(x, *p)`` at adjusted points ``x + delta``, with its derivatives
    and the evaluation counts. ``x``, ``sx``: (k, m); ``y``, ``sy``: (m,); ``one_d``: the
    user's x is 1-D (``f`` is called with a 1-D array)."""

    def __init__(self, f: Callable, x: np.ndarray, y: np.ndarray, sy: np.ndarray,
                 sx: np.ndarray, one_d: bool, n: int, jac: Callable | None = None,
                 jac_x: Callable | None = None):
        self.f, self.x, self.y, self.sy, self.sx = f, x, y, sy, sx
        self.one_d, self.n = one_d, n
        self.jac, self.jac_x = jac, jac_x
        self.k, self.m = x.shape
        self.nfev = self.njev = self.nfev_fd = 0
        # The floor of the x steps: the median size of each variable's data, so that a point
        # near x = 0 is not differenced with a step far below the rounding of f there.
        size = np.median(np.abs(x), axis=1)
        top = np.max(np.abs(x), axis=1)
        self._x_size = np.where(size > 0, size, np.where(top > 0, top, 1.0))
        self.jac_method = "callable" if jac is not None and jac_x is not None else "3-point"

    def _points(self, d: np.ndarray) -> np.ndarray:
        X = self.x + d
        return X[0] if self.one_d else X

    def _call(self, X: np.ndarray, p: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            out = check.returned_numbers("f", self.f(np.array(X, copy=True), *p))
        out = np.asarray(out)
        if np.iscomplexobj(out):
            raise ValueError("f returned complex values; the model must be real.")
        if out.size != self.m:
            raise ValueError(f"f must return one value per point ({self.m}), but it returned "
                             f"shape {out.shape}.")
        return out.astype(float, copy=False).ravel()

    def values(self, p: np.ndarray, d: np.ndarray) -> np.ndarray:
        self.nfev += 1
        return self._call(self._points(d), p)

    def residuals(self, p: np.ndarray, d: np.ndarray, fval: np.ndarray | None = None):
        """``r1 = (f - y) / sigma_y`` and ``r2 = delta / sigma_x`` (user units)."""
        fval = self.values(p, d) if fval is None else fval
        with np.errstate(all="ignore"):
            return (fval - self.y) / self.sy, d / self.sx

    def derivatives(self, p: np.ndarray, d: np.ndarray, fval: np.ndarray,
                    refined: bool = False):
        """``(A, a)``: ``d r1 / d p`` (m, n) and ``d r1 / d delta_j`` (k, m), user units;
        ``refined``: fourth-order central differences (the polish and the certificate)."""
        self.njev += 1
        X = self._points(d)
        scheme = "5-point" if refined else "3-point"
        with np.errstate(all="ignore"):
            if self.jac is not None:
                F_p = real_jacobian(self.jac(np.array(X, copy=True), *p), self.m, self.n)
            else:
                F_p, used = finite_difference_jacobian(
                    lambda q: self._call(X, q), p, fval, scheme,
                    np.full(self.n, -np.inf), np.full(self.n, np.inf))
                self.nfev_fd += used
            F_x = self._x_derivative(p, d, scheme)
            return F_p / self.sy[:, None], F_x / self.sy

    def _x_derivative(self, p: np.ndarray, d: np.ndarray, scheme: str) -> np.ndarray:
        if self.jac_x is not None:
            X = self._points(d)
            out = np.asarray(check.returned_numbers("jac_x", self.jac_x(np.array(X, copy=True),
                                                                         *p)), dtype=float)
            if out.size != self.k * self.m:
                raise ValueError(f"jac_x must return shape ({self.m},) or ({self.k}, "
                                 f"{self.m}), got {out.shape}.")
            return out.reshape(self.k, self.m)
        xs = self.x + d
        F_x = np.empty((self.k, self.m))

        def at(j: int, h: np.ndarray) -> np.ndarray:
            moved = xs.copy()
            moved[j] = xs[j] + h
            return self._call(moved[0] if self.one_d else moved, p)

        for j in range(self.k):
            rel = DEFAULT_RELATIVE_STEP[scheme]
            h = rel * np.maximum(np.abs(xs[j]), self._x_size[j])
            h = (xs[j] + h) - xs[j]  # representable
            if scheme == "3-point":
                F_x[j] = (at(j, h) - at(j, -h)) / (2.0 * h)
                self.nfev_fd += 2
            else:
                F_x[j] = (at(j, -2 * h) - 8 * at(j, -h) + 8 * at(j, h) - at(j, 2 * h)) / (12 * h)
                self.nfev_fd += 4
        return F_x


@dataclass(frozen=True)
class OdrRun(FitResult):
    """A :class:`FitResult` whose ``fun`` and ``jac`` are the reduced problem's at ``mu = 0``
    (the effective-variance residuals ``sqrt(omega) rt`` and Jacobian ``sqrt(omega) A``, m
    rows): at a stationary point their cost is the full cost, their gradient the full one,
    and ``covariance(result)`` is ODRPACK's covariance. ``delta``: the corrections to x
    (the shape of the user's x); ``residual_y``, ``residual_x``: ``r1`` and ``r2``."""

    delta: np.ndarray | None = None
    residual_y: np.ndarray | None = None
    residual_x: np.ndarray | None = None


def _power_of_two(*arrays: np.ndarray) -> int:
    top = max(float(np.max(np.abs(a), initial=0.0)) for a in arrays)
    return math.frexp(top)[1] if top > 0.0 and math.isfinite(top) else 0


def _few(indices: np.ndarray, limit: int = 10) -> str:
    shown = str(indices[:limit].tolist())
    return shown if indices.size <= limit else f"{shown[:-1]}, ... ({indices.size} in all)]"


class NonFiniteOdrStart(ValueError):
    """The model is not finite at the start (the caller's start: raised; a rescue start:
    rejected)."""


def run(model: OdrModel, p0: np.ndarray, *, ftol: float | None, xtol: float | None,
        gtol: float | None, max_nfev: int | None, max_iter: int | None, tau: float,
        rounding: float) -> OdrRun:
    """One Levenberg-Marquardt run from ``p0`` with zero corrections (module docstring)."""
    with np.errstate(all="ignore"):
        return _run(model, p0, ftol, xtol, gtol, max_nfev, max_iter, tau, rounding)


def _linearize(model: OdrModel, p, d, fval, e: int, refined: bool = False) -> Linearization:
    r1, r2 = model.residuals(p, d, fval)
    A, a = model.derivatives(p, d, fval, refined)
    return Linearization(np.ldexp(r1, -e), np.ldexp(r2, -e), np.ldexp(A, -e),
                         np.ldexp(a, -e), np.ldexp(1.0 / model.sx, -e), fval)


def _run(model, p0, ftol, xtol, gtol, max_nfev, max_iter, tau, rounding) -> OdrRun:
    nfev0, njev0, fd0 = model.nfev, model.njev, model.nfev_fd
    p, d = p0.copy(), np.zeros_like(model.x)
    fval = model.values(p, d)
    r1, r2 = model.residuals(p, d, fval)
    if not np.all(np.isfinite(r1)):
        raise NonFiniteOdrStart(
            f"f is not finite at p0 at the points {_few(np.flatnonzero(~np.isfinite(r1)))}; "
            "the start must give a finite model at every point.")
    e = _power_of_two(r1, r2)
    lin = _linearize(model, p, d, fval, e)
    if not (np.all(np.isfinite(lin.A)) and np.all(np.isfinite(lin.a))):
        raise NonFiniteOdrStart("the derivatives of f are not finite at p0.")
    noise = stopping.jacobian_noise("exact" if model.jac_method == "callable" else "3-point")
    seen_p, seen_d = lin.column_norms()
    mu, nu = tau, 2.0
    history: list[IterationRecord] = []
    nit = 0
    cost = lin.cost
    while True:
        Dp, Dd = np.where(seen_p > 0, seen_p, 1.0), np.where(seen_d > 0, seen_d, 1.0)
        reason, value = stopping.gradient_test(lin.gradient_cosine(), gtol)
        if reason is None:
            reason, value = stopping.budget_test(model.nfev - nfev0, max_nfev, nit, max_iter)
        if reason is not None:
            break
        hp, hd = lin.damped_step(mu, Dp, Dd)
        if not (np.all(np.isfinite(hp)) and np.all(np.isfinite(hd))):
            reason, value = StopReason.NO_PROGRESS, mu
            break
        xs, hs = np.concatenate([p, d.ravel()]), np.concatenate([hp, hd.ravel()])
        reason, value = stopping.step_test(hs, xs, xtol, _step_floor(lin, xs))
        if reason is not None:
            break
        nit += 1
        cost_before = cost
        p_new, d_new = p + hp, d + hd
        f_new = model.values(p_new, d_new)
        r1n, r2n = model.residuals(p_new, d_new, f_new)
        r1n, r2n = np.ldexp(r1n, -e), np.ldexp(r2n, -e)
        cost_new = 0.5 * (dot(r1n, r1n) + dot(r2n, r2n))
        finite = bool(np.all(np.isfinite(r1n))) and math.isfinite(cost_new)
        predicted = lin.predicted_reduction(hp, hd)
        actual = cost - cost_new if finite else -math.inf
        rho = (actual / predicted if predicted > 0 else (1.0 if actual > 0 else -math.inf))
        accepted = finite and rho > 0.0
        note = "" if finite else "non-finite residuals"
        if accepted:
            new = _linearize(model, p_new, d_new, f_new, e)
            if np.all(np.isfinite(new.A)) and np.all(np.isfinite(new.a)):
                p, d, lin, cost = p_new, d_new, new, cost_new
                cp, cd = lin.column_norms()
                seen_p, seen_d = np.maximum(seen_p, cp), np.maximum(seen_d, cd)
            else:
                accepted, rho, note = False, -math.inf, "non-finite Jacobian at the trial point"
        mu_used = mu
        mu, nu = nielsen_update(mu, nu, rho if accepted else -math.inf)
        cost_reason, cost_value = stopping.cost_test(actual, predicted, cost_before, ftol)
        if cost_reason is None:
            cost_reason, cost_value = stopping.rounding_test(actual, predicted, cost_before,
                                                             rounding)
        history.append(IterationRecord(
            iteration=nit, x=p.copy(), cost=float(np.ldexp(cost, 2 * e)),
            grad_norm=float(np.ldexp(np.max(np.abs(lin.gradient()[0]), initial=0.0), 2 * e)),
            step_norm=norm(hs), step_kind="LM", accepted=accepted,
            mu=mu_used, rho=rho, nfev=model.nfev - nfev0, note=note))
        if cost_reason is not None:
            reason, value = cost_reason, cost_value
            break
        if not mu < MU_LIMIT:
            reason, value = StopReason.NO_PROGRESS, mu
            break

    events: list[Event] = []
    jac_method = model.jac_method
    if reason.converged:
        if jac_method != "callable":  # fourth-order differences for the polish (docstring)
            refined = _linearize(model, p, d, lin.fval, e, refined=True)
            if np.all(np.isfinite(refined.A)) and np.all(np.isfinite(refined.a)):
                lin, jac_method = refined, "5-point"
                noise = stopping.jacobian_noise("5-point")
        p, d, lin, cost, steps = _polish(model, p, d, lin, cost, e, noise, nfev0, max_nfev,
                                         Dp, Dd, nit, history, jac_method == "5-point")
        nit += steps
        tolerance = {StopReason.GRADIENT: gtol, StopReason.STEP: xtol,
                     StopReason.COST: ftol}.get(reason) or 0.0
        uncertified, measure = certify(lin, p, p0, tolerance, noise)
        if uncertified is not None:
            events.append(StopTestFired(reason, nit, value, uncertified))
            reason, value = uncertified, measure
    Jr, rr, *_ = lin.reduced()
    n = p.size
    return OdrRun(
        x=p.copy(), cost=float(np.ldexp(cost, 2 * e)), fun=np.ldexp(rr, e),
        jac=np.ldexp(Jr, e), grad=np.ldexp(Jr.T @ rr, 2 * e),
        optimality=float(np.ldexp(np.max(np.abs(lin.gradient()[0]), initial=0.0), 2 * e)),
        active_mask=np.zeros(n, dtype=int), nfev=model.nfev - nfev0, njev=model.njev - njev0,
        nit=nit, method="odr", stop_reason=reason, stop_value=value, history=tuple(history),
        nfev_fd=model.nfev_fd - fd0, x0=p0.copy(),
        bounds=(np.full(n, -np.inf), np.full(n, np.inf)), events=tuple(events),
        jac_method=jac_method, delta=d[0].copy() if model.one_d else d.copy(),
        residual_y=np.ldexp(lin.r1, e),
        residual_x=np.ldexp(lin.r2[0] if model.one_d else lin.r2, e))


def _step_floor(lin: Linearization, xs: np.ndarray) -> np.ndarray:
    """:func:`trustfit.core.stopping.step_floor` over parameters and corrections: the size of
    the whole vector in each variable's units, ``||c x|| / c_j`` (``c`` the column norms)."""
    cp, cd = lin.column_norms()
    c = np.concatenate([cp, cd.ravel()])
    return np.where(c > 0, norm(c * xs) / np.where(c > 0, c, 1.0), np.inf)


def _at_rounding(lin: Linearization, p, d, hp, hd) -> bool:
    """Every component of the step at the rounding level of its variable (the polish's stop
    in :mod:`trustfit.solve.polish`)."""
    xs, hs = np.concatenate([p, d.ravel()]), np.concatenate([hp, hd.ravel()])
    return bool(np.all(np.abs(hs) <= EPS * (np.abs(xs) + _step_floor(lin, xs))))


def _polish(model: OdrModel, p, d, lin: Linearization, cost: float, e: int, noise: float,
            nfev0: int, max_nfev: int | None, Dp, Dd, nit: int, history: list,
            refined: bool):
    """Gauss-Newton steps of the full problem while they shrink (module docstring); returns
    the kept point and the number of steps taken."""
    def scaled_norm(hp, hd) -> float:
        return norm(Dp * hp, Dd * hd)

    hp, hd = lin.gauss_newton_step(noise)
    size = scaled_norm(hp, hd)
    steps = 0
    for _ in range(MAX_POLISH_STEPS):
        if not math.isfinite(size) or size == 0.0 or _at_rounding(lin, p, d, hp, hd):
            break
        if max_nfev is not None and model.nfev - nfev0 >= max_nfev:
            break
        p_new, d_new = p + hp, d + hd
        f_new = model.values(p_new, d_new)
        r1n, r2n = model.residuals(p_new, d_new, f_new)
        r1n, r2n = np.ldexp(r1n, -e), np.ldexp(r2n, -e)
        cost_new = 0.5 * (dot(r1n, r1n) + dot(r2n, r2n))
        if not (np.all(np.isfinite(r1n)) and math.isfinite(cost_new)) or \
                cost_new > cost * (1.0 + COST_NOISE):
            break
        new = _linearize(model, p_new, d_new, f_new, e, refined)
        if not (np.all(np.isfinite(new.A)) and np.all(np.isfinite(new.a))):
            break
        hp_new, hd_new = new.gauss_newton_step(noise)
        size_new = scaled_norm(hp_new, hd_new)
        accepted = size_new <= SHRINK * size or (size_new < size and cost_new < cost)
        steps += 1
        history.append(IterationRecord(
            iteration=nit + steps, x=(p_new if accepted else p).copy(),
            cost=float(np.ldexp(cost_new if accepted else cost, 2 * e)),
            grad_norm=float(np.ldexp(np.max(np.abs((new if accepted else lin).gradient()[0]),
                                            initial=0.0), 2 * e)),
            step_norm=norm(hp, hd),
            step_kind="GN", accepted=accepted, nfev=model.nfev - nfev0, note="polish"))
        if not accepted:
            break
        p, d, lin, cost = p_new, d_new, new, cost_new
        hp, hd, size = hp_new, hd_new, size_new
    return p, d, lin, cost, steps
