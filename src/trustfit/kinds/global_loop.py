"""A global fit's Levenberg-Marquardt run: the problem and its start for :mod:`.structured_lm`.

The loop, every rule of it the core's own (Nielsen's damping in variables scaled by Moré's
rule, the gain ratio with the step actually taken, the active set of the bounds, the core's
stopping tests, the polish and the certificate), is :mod:`.structured_lm`'s, shared with
orthogonal distance regression (:mod:`.odr_loop`). This module gives it the problem: the
variables are ``theta`` (shared parameters, then each data set's local ones), an evaluation
is the residuals per group, the linearization :mod:`.global_linalg`'s (each data set's local
parameters eliminated, the exact dense LM step in time linear in the number of data sets),
and the certificate :mod:`.global_certify`'s, which also names the data sets whose own local
block made a stop degenerate.

Moré's scaling matters here: with ``D = I`` (the core LM's ``x_scale=1``) a far start that
stalls here converged, but the same fit with y, sigma and the amplitudes' start multiplied by
1e10 stalled; with Moré's scaling both runs take the same path (amplitudes of 1e3 beside
lifetimes of 1e-9 s). A stall is reported as such (``STALLED``), never as a success.

The residuals are divided by a power of two fixed at the start (exact; costs of 1e-300 or
1e300 neither under- nor overflow).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core import stopping
from ..core.result import StopReason
from . import structured_lm
from .global_certify import certify
from .global_linalg import Linearization
from .global_problem import GlobalProblem


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


class _Structured:
    """The global problem as :class:`.structured_lm.StructuredProblem`: the variables are
    ``theta``, the state of an evaluation its scaled residuals per group."""

    def __init__(self, problem: GlobalProblem, theta0: np.ndarray, lb: np.ndarray,
                 ub: np.ndarray, e: int, start: tuple[list[np.ndarray], Linearization]):
        self.problem, self.theta0, self.lb, self.ub, self.e = problem, theta0, lb, ub, e
        self.exact = problem.exact
        self.start: tuple[list[np.ndarray], Linearization] | None = start

    @property
    def nfev(self) -> int:
        return self.problem.nfev

    def evaluate(self, theta: np.ndarray) -> tuple[list[np.ndarray], float, bool]:
        r = _scaled(self.problem.residuals(theta), self.e)
        cost = _cost(r)
        return r, cost, math.isfinite(cost) and all(bool(np.all(np.isfinite(a))) for a in r)

    def linearize(self, theta: np.ndarray, r: list[np.ndarray],
                  refined: bool) -> Linearization | None:
        lin = Linearization(self.problem, theta, r, self.e, refined)
        return lin if lin.finite else None

    @staticmethod
    def norm(v: np.ndarray) -> float:
        return _norm(v)

    @staticmethod
    def parameters(v: np.ndarray) -> np.ndarray:
        return v

    def certify(self, lin: Linearization, theta: np.ndarray, tolerance: float, noise: float,
                held: np.ndarray) -> tuple[StopReason | None, float, tuple[int, ...]]:
        return certify(lin, theta, self.theta0, tolerance, noise, held)


def run(problem: GlobalProblem, theta0: np.ndarray, lb: np.ndarray, ub: np.ndarray, *,
        ftol: float | None, xtol: float | None, gtol: float | None, max_nfev: int | None,
        max_iter: int | None, tau: float, rounding: float) -> GlobalRun:
    """One Levenberg-Marquardt run from ``theta0`` (module docstring)."""
    with np.errstate(all="ignore"):
        structured = _start(problem, theta0, lb, ub)
        out = structured_lm.run(
            structured, theta0, nfev0=problem.nfev,
            noise=stopping.jacobian_noise("exact" if problem.exact else "3-point"),
            ftol=ftol, xtol=xtol, gtol=gtol, max_nfev=max_nfev, max_iter=max_iter, tau=tau,
            rounding=rounding)
    e = structured.e
    return GlobalRun(
        theta=out.x, theta0=theta0.copy(),
        residuals=[np.ldexp(a, e, out=a) for a in out.state], lin=out.lin,
        cost=float(np.ldexp(out.cost, 2 * e)), stop_reason=out.stop_reason,
        stop_value=out.stop_value, nit=out.nit, nfev=out.nfev, njev=problem.njev,
        nfev_fd=problem.nfev_fd, history=out.history, events=out.events,
        jac_method="5-point" if out.refined else problem.jac_method, noise=out.noise,
        degenerate_sets=out.detail or ())


def _start(problem: GlobalProblem, theta0: np.ndarray, lb: np.ndarray,
           ub: np.ndarray) -> _Structured:
    """The problem with its start evaluated; the caller's start must be finite (raises
    :class:`NonFiniteGlobalStart` naming the data sets)."""
    r_user = problem.residuals(theta0)
    bad = [int(k) for g, a in zip(problem.groups, r_user)
           for k in g.members[~np.all(np.isfinite(a), axis=1)]]
    if bad:
        raise NonFiniteGlobalStart(
            f"the model is not finite at p0 in the data sets {sorted(bad)[:10]}"
            f"{' ...' if len(bad) > 10 else ''}; the start must give finite values "
            "everywhere.")
    e = _power_of_two(r_user)
    r = _scaled(r_user, e)  # r_user is scaled in place: one copy of the residuals
    lin = Linearization(problem, theta0, r, e)
    if not lin.finite:
        raise NonFiniteGlobalStart("the derivatives of the model are not finite at p0.")
    return _Structured(problem, theta0, lb, ub, e, (r, lin))
