"""Levenberg-Marquardt damped steps and their damping rules.

The step solves ``(J^T J + mu D^2) h = -g``, computed as the augmented least-squares problem
``[J; sqrt(mu) D] h = [-r; 0]`` through the SVD of ``J D^{-1}`` (see :mod:`trustfit.linalg`),
never through the normal equations. Madsen, Nielsen & Tingleff (2004), sec. 3.2:

* start: ``mu_0 = tau * max_i (J^T J)_ii`` (in scaled variables), ``tau = 1e-3`` by default;
* gain ratio ``rho = (F(x) - F(x + h)) / (L(0) - L(h))``;
* Nielsen's rule (1999), the default: if ``rho > 0``:
  ``mu *= max(1/3, 1 - (2 rho - 1)^3)``, ``nu = 2``; else ``mu *= nu``, ``nu *= 2``.
  The smooth update avoids the oscillation of the step-function rule;
* Marquardt's rule (1963): ``rho < 1/4``: ``mu *= 2``; ``rho > 3/4``: ``mu /= 3``.

Steps are accepted when ``rho > 0`` (the trust-region test does that).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .base import GaussNewtonModel, Iterate, Step, StepStrategy

if TYPE_CHECKING:
    from ..globalize import Outcome

DAMPING_RULES = ("nielsen", "marquardt")
MU_LIMIT = 1e300  # past this the step underflows to zero: no room left


def nielsen_update(mu: float, nu: float, rho: float) -> tuple[float, float]:
    """Nielsen's damping rule: returns the new ``(mu, nu)``."""
    if rho > 0.0:
        return mu * max(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3), 2.0
    return mu * nu, 2.0 * nu


def marquardt_update(mu: float, rho: float) -> float:
    """Marquardt's damping rule: the new ``mu``."""
    if rho < 0.25:
        return 2.0 * mu
    if rho > 0.75:
        return mu / 3.0
    return mu


def initial_damping(it: Iterate, tau: float) -> float:
    """``tau * max(diag(J^T J))`` in scaled variables; ``tau`` when ``J`` is zero."""
    Js = it.scaled_jacobian
    diag_max = float(np.max(np.sum(Js * Js, axis=0), initial=0.0))
    return tau * diag_max if diag_max > 0.0 and math.isfinite(diag_max) else tau


class LevenbergMarquardt(StepStrategy):
    name = "lm"

    def __init__(self, tau: float = 1e-3, damping: str = "nielsen"):
        self.tau = tau
        self.damping = damping
        self._mu = math.nan
        self._nu = 2.0

    def start(self, it: Iterate) -> None:
        self._mu = initial_damping(it, self.tau)
        self._nu = 2.0

    def propose(self, it: Iterate) -> Step:
        h = it.unscale(it.svd.damped(self._mu))
        return Step(h, "LM", GaussNewtonModel(it.g, it.J))

    def update(self, it: Iterate, step: Step, outcome: Outcome) -> None:
        rho = outcome.rho if outcome.accepted or math.isfinite(outcome.rho) else -math.inf
        if self.damping == "nielsen":
            self._mu, self._nu = nielsen_update(self._mu, self._nu, rho)
        else:
            self._mu = marquardt_update(self._mu, rho)

    def exhausted(self) -> float | None:
        return self._mu if not self._mu < MU_LIMIT else None

    @property
    def mu(self) -> float:
        return self._mu
