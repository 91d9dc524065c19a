"""Orthogonal distance regression: the model's evaluations and the problem for the LM loop.

The loop is :mod:`.structured_lm`'s, shared with global fits (:mod:`.global_loop`), every
rule of it the core's own (Nielsen's damping in variables scaled by Moré's rule, the gain
ratio with the step actually taken, the core's stopping tests, the polish and the
certificate). This module gives it the problem: the variables are the parameters and the
corrections to x, ``[p, delta.ravel()]`` (Moré's scaling over both, so the path does not
depend on the units of x, y or the parameters), an evaluation is the model's values at
``x + delta``, the linearization :mod:`.odr_linalg`'s (the corrections eliminated, O(m n^2)
per step, the Jacobian never formed), the certificate :func:`.odr_linalg.certify` on the full
problem. There are no bounds here (bounded ODR is :mod:`.odr_implicit`'s foot-point path).
The residuals are divided by a power of two fixed at the start
(:class:`trustfit.core.scaling.ResidualScale`): exact, and costs of 1e-300 or 1e300 neither
under- nor overflow.

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
from ..core.differentiation import DEFAULT_RELATIVE_STEP, finite_difference_jacobian
from ..core.problem import real_jacobian
from ..core.result import FitResult, StopReason
from . import structured_lm
from .odr_linalg import Linearization, certify, dot, norm


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
    nfev0, njev0, fd0 = model.nfev, model.njev, model.nfev_fd
    with np.errstate(all="ignore"):
        problem = _start(model, p0)
        out = structured_lm.run(
            problem, np.concatenate([p0, np.zeros(model.x.size)]), nfev0=nfev0,
            noise=stopping.jacobian_noise("exact" if problem.exact else "3-point"),
            ftol=ftol, xtol=xtol, gtol=gtol, max_nfev=max_nfev, max_iter=max_iter, tau=tau,
            rounding=rounding)
    e, n, final = problem.e, p0.size, out.lin.lin
    p, d = problem.split(out.x)
    Jr, rr, *_ = final.reduced()
    return OdrRun(
        x=p.copy(), cost=float(np.ldexp(out.cost, 2 * e)), fun=np.ldexp(rr, e),
        jac=np.ldexp(Jr, e), grad=np.ldexp(Jr.T @ rr, 2 * e),
        optimality=float(np.ldexp(np.max(np.abs(final.gradient()[0]), initial=0.0), 2 * e)),
        active_mask=np.zeros(n, dtype=int), nfev=out.nfev, njev=model.njev - njev0,
        nit=out.nit, method="odr", stop_reason=out.stop_reason, stop_value=out.stop_value,
        history=out.history, nfev_fd=model.nfev_fd - fd0, x0=p0.copy(),
        bounds=(np.full(n, -np.inf), np.full(n, np.inf)), events=out.events,
        jac_method="5-point" if out.refined else model.jac_method,
        delta=d[0].copy() if model.one_d else d.copy(),
        residual_y=np.ldexp(final.r1, e),
        residual_x=np.ldexp(final.r2[0] if model.one_d else final.r2, e))


def _start(model: OdrModel, p0: np.ndarray) -> _Structured:
    """The problem with its start (zero corrections) evaluated; the caller's start must be
    finite (raises :class:`NonFiniteOdrStart` naming the points)."""
    d0 = np.zeros_like(model.x)
    fval = model.values(p0, d0)
    r1, r2 = model.residuals(p0, d0, fval)
    if not np.all(np.isfinite(r1)):
        raise NonFiniteOdrStart(
            f"f is not finite at p0 at the points {_few(np.flatnonzero(~np.isfinite(r1)))}; "
            "the start must give a finite model at every point.")
    problem = _Structured(model, p0, _power_of_two(r1, r2))
    lin = problem.linearize(np.concatenate([p0, d0.ravel()]), fval, False)
    if lin is None:
        raise NonFiniteOdrStart("the derivatives of f are not finite at p0.")
    problem.start = (fval, lin)
    return problem


class _FlatLinearization:
    """:class:`.odr_linalg.Linearization` over the flat variables ``[p, delta.ravel()]``
    (:class:`.structured_lm.StructuredLinearization`); no bounds, so nothing is held."""

    def __init__(self, lin: Linearization, n: int):
        self.lin, self.n, self.shape = lin, n, lin.r2.shape
        self._norms: np.ndarray | None = None
        self._gradient: np.ndarray | None = None

    @property
    def cost(self) -> float:
        return self.lin.cost

    @property
    def residual_norm(self) -> float:
        return self.lin.residual_norm

    def _flat(self, hp: np.ndarray, hd: np.ndarray) -> np.ndarray:
        return np.concatenate([hp, hd.ravel()])

    def column_norms(self) -> np.ndarray:
        if self._norms is None:
            self._norms = self._flat(*self.lin.column_norms())
        return self._norms

    def gradient(self) -> np.ndarray:
        if self._gradient is None:
            self._gradient = self._flat(*self.lin.gradient())
        return self._gradient

    def gradient_cosine(self) -> float:
        return self.lin.gradient_cosine()

    def damped_step(self, mu: float, D: np.ndarray, held: np.ndarray) -> np.ndarray:
        return self._flat(*self.lin.damped_step(mu, D[:self.n], D[self.n:].reshape(self.shape)))

    def predicted_reduction(self, h: np.ndarray) -> float:
        return self.lin.predicted_reduction(h[:self.n], h[self.n:].reshape(self.shape))

    def gauss_newton_step(self, noise: float, held: np.ndarray) -> np.ndarray:
        return self._flat(*self.lin.gauss_newton_step(noise))


class _Structured:
    """Orthogonal distance regression as :class:`.structured_lm.StructuredProblem`: the
    variables are ``[p, delta.ravel()]``, the state of an evaluation the model's values
    (user units), the residuals scaled by ``2^-e``."""

    def __init__(self, model: OdrModel, p0: np.ndarray, e: int):
        self.model, self.p0, self.e, self.n = model, p0, e, p0.size
        self.exact = model.jac_method == "callable"
        size = p0.size + model.x.size
        self.lb, self.ub = np.full(size, -np.inf), np.full(size, np.inf)
        self.start: tuple[np.ndarray, _FlatLinearization] | None = None

    @property
    def nfev(self) -> int:
        return self.model.nfev

    def split(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x[:self.n], x[self.n:].reshape(self.model.x.shape)

    def evaluate(self, x: np.ndarray) -> tuple[np.ndarray, float, bool]:
        p, d = self.split(x)
        fval = self.model.values(p, d)
        r1, r2 = self.model.residuals(p, d, fval)
        r1, r2 = np.ldexp(r1, -self.e), np.ldexp(r2, -self.e)
        return fval, 0.5 * (dot(r1, r1) + dot(r2, r2)), bool(np.all(np.isfinite(r1)))

    def linearize(self, x: np.ndarray, fval: np.ndarray,
                  refined: bool) -> _FlatLinearization | None:
        p, d = self.split(x)
        r1, r2 = self.model.residuals(p, d, fval)
        A, a = self.model.derivatives(p, d, fval, refined)
        e = self.e
        lin = Linearization(np.ldexp(r1, -e), np.ldexp(r2, -e), np.ldexp(A, -e),
                            np.ldexp(a, -e), np.ldexp(1.0 / self.model.sx, -e), fval)
        if not (np.all(np.isfinite(lin.A)) and np.all(np.isfinite(lin.a))):
            return None
        return _FlatLinearization(lin, self.n)

    @staticmethod
    def norm(v: np.ndarray) -> float:
        return norm(v)

    def parameters(self, v: np.ndarray) -> np.ndarray:
        return v[:self.n]

    def certify(self, lin: _FlatLinearization, x: np.ndarray, tolerance: float, noise: float,
                held: np.ndarray) -> tuple[StopReason | None, float, None]:
        return (*certify(lin.lin, x[:self.n], self.p0, tolerance, noise), None)
