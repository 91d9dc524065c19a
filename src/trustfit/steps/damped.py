"""Levenberg-Marquardt damped steps and their damping rules.

The step solves ``(J^T J + mu D^2) h = -g``, computed as the augmented least-squares problem
``[J; sqrt(mu) D] h = [-r; 0]`` through the SVD of ``J D^{-1}`` (see :mod:`trustfit.core.linalg`),
never through the normal equations. Madsen, Nielsen & Tingleff (2004), sec. 3.2:

* start: ``mu_0 = tau * max_i (J^T J)_ii`` (in scaled variables), ``tau = 1e-3`` by default;
* gain ratio ``rho = (F(x) - F(x + h)) / (L(0) - L(h))``;
* Nielsen's rule (1999), the default: if ``rho > 0``:
  ``mu *= max(1/3, 1 - (2 rho - 1)^3)``, ``nu = 2``; else ``mu *= nu``, ``nu *= 2``.
  The smooth update avoids the oscillation of the step-function rule;
* Marquardt's rule (1963): ``rho < 1/4``: ``mu *= 2``; ``rho > 3/4``: ``mu /= 3``.

Steps are accepted when ``rho > 0`` (the trust-region test does that).

Geodesic acceleration (Transtrum & Sethna 2012, "Improvements to the Levenberg-Marquardt
algorithm for nonlinear least-squares minimization", arXiv:1201.5885; GSL ``lmaccel``), with
``accel=True``: the LM step ``v`` is a velocity along a geodesic of the model manifold; the
second-order correction ``a`` solves the same damped system with the directional second
derivative ``r_vv`` in place of ``r``:

``r_vv ~ (2/h) ((r(x + h v) - r(x)) / h - J v)``,  ``h = 0.1``,  step ``v + a/2``,

at the price of one residual evaluation. In narrow curved valleys (NIST MGH10, Bennett5)
the step follows the valley instead of zig-zagging across it. When ``2 ||a|| / ||v|| > 0.75``
the expansion is not trusted and the plain step ``v`` is proposed instead.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..core.problem import ProblemLike
from .base import GaussNewtonModel, Iterate, Step, StepStrategy
from .lm_rules import MU_ROOM, damping_exhausted, damping_start, nielsen_accept, nielsen_reject

if TYPE_CHECKING:
    from ..core.vocabulary import Outcome

DAMPING_RULES = ("nielsen", "marquardt")
MU_LIMIT = MU_ROOM  # past this the step underflows to zero: no room left


def nielsen_update(mu: float, nu: float, rho: float) -> tuple[float, float]:
    """Nielsen's damping rule (:mod:`.lm_rules`, shared with the batch): the new ``(mu, nu)``."""
    if rho > 0.0:
        return float(nielsen_accept(mu, rho)), 2.0
    return nielsen_reject(mu, nu)


def marquardt_update(mu: float, rho: float) -> float:
    """Marquardt's damping rule: the new ``mu``."""
    if rho < 0.25:
        return 2.0 * mu
    if rho > 0.75:
        return mu / 3.0
    return mu


def initial_damping(it: Iterate, tau: float) -> float:
    """``tau * max(diag(J^T J))`` in scaled variables; ``tau`` when ``J`` is zero."""
    diag_max = float(np.max(it.scaled_gram_diagonal(), initial=0.0))
    return damping_start(tau, diag_max)


class LevenbergMarquardt(StepStrategy):
    name = "lm"

    def __init__(self, tau: float = 1e-3, damping: str = "nielsen", accel: bool = False,
                 accel_h: float = 0.1, accel_ratio: float = 0.75):
        self.tau = tau
        self.damping = damping
        self.accel, self.accel_h, self.accel_ratio = accel, accel_h, accel_ratio
        self._mu = math.nan
        self._nu = 2.0

    def start(self, it: Iterate) -> None:
        self._mu = initial_damping(it, self.tau)
        self._nu = 2.0

    def propose(self, it: Iterate, problem: ProblemLike) -> Step:
        z = it.svd.damped(self._mu)
        if self.accel:
            z = self._accelerate(it, problem, z)
        return Step(it.unscale(z), "LM", GaussNewtonModel(it.g, it.J))

    def _accelerate(self, it: Iterate, problem: ProblemLike, z: np.ndarray) -> np.ndarray:
        """``v + a/2`` (module docstring), or ``v`` when the correction is not trusted."""
        v = it.unscale(z)
        x_probe = it.x + self.accel_h * v
        if not np.all((x_probe >= it.lb) & (x_probe <= it.ub)):
            return z
        f_probe = problem.residuals(x_probe)
        r_vv = (2.0 / self.accel_h) * ((f_probe - it.f) / self.accel_h - it.J @ v)
        if not np.all(np.isfinite(r_vv)):
            return z
        a = it.svd.damped(self._mu, r_vv)
        z_norm = float(np.linalg.norm(z))
        if z_norm == 0.0 or 2.0 * float(np.linalg.norm(a)) > self.accel_ratio * z_norm:
            return z
        return z + 0.5 * a

    def update(self, it: Iterate, step: Step, outcome: Outcome) -> None:
        rho = outcome.rho if outcome.accepted or math.isfinite(outcome.rho) else -math.inf
        if self.damping == "nielsen":
            self._mu, self._nu = nielsen_update(self._mu, self._nu, rho)
        else:
            self._mu = marquardt_update(self._mu, rho)

    def exhausted(self) -> float | None:
        # the scaled J^T J has a unit-sized diagonal: the room is MU_ROOM itself
        return self._mu if damping_exhausted(self._mu, 1.0) else None

    @property
    def mu(self) -> float:
        return self._mu
