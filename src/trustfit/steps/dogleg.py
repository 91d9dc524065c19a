"""Powell's dogleg step in a trust region (Madsen, Nielsen & Tingleff 2004, sec. 3.3).

In scaled variables, with the Gauss-Newton step ``z_gn`` and the steepest-descent direction
``-g``: the Cauchy point ``z_sd = -alpha g`` with ``alpha = ||g||^2 / ||J g||^2`` minimises the
linear model along ``-g``. Then

* ``||z_gn|| <= Delta``: take ``z_gn``;
* ``||z_sd|| >= Delta``: take ``-(Delta / ||g||) g``;
* otherwise ``z = z_sd + beta (z_gn - z_sd)`` with ``beta`` the positive root of
  ``||z_sd + beta (z_gn - z_sd)|| = Delta``, computed in the cancellation-free form
  (MNT eq. 3.22).

Radius update (MNT eq. 2.19): ``rho < 1/4``: ``Delta /= 2``; ``rho > 3/4``:
``Delta = max(Delta, 3 ||z||)``. The initial radius is ``||D x0||`` (1 when x0 = 0).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..core.problem import ProblemLike
from .base import GaussNewtonModel, Iterate, Step, StepStrategy

if TYPE_CHECKING:
    from ..core.vocabulary import Outcome

RADIUS_FLOOR = 1e-300


def dogleg_step(z_gn: np.ndarray, g: np.ndarray, Jg_norm2: float, radius: float) -> np.ndarray:
    """Powell's dogleg in scaled variables (``g`` the scaled gradient, ``Jg_norm2 = ||J g||^2``)."""
    if np.linalg.norm(z_gn) <= radius:
        return z_gn
    g_norm = float(np.linalg.norm(g))
    if g_norm == 0.0:
        return np.zeros_like(g)
    alpha = g_norm**2 / Jg_norm2 if Jg_norm2 > 0.0 else math.inf
    if alpha * g_norm >= radius:
        return -(radius / g_norm) * g
    a = -alpha * g
    d = z_gn - a
    c = float(a @ d)
    dd = float(d @ d)
    room = radius**2 - float(a @ a)
    root = math.sqrt(c * c + dd * room)
    beta = (-c + root) / dd if c <= 0.0 else room / (c + root)
    return a + beta * d


class Dogleg(StepStrategy):
    name = "dogleg"

    def __init__(self) -> None:
        self._radius = math.nan

    def start(self, it: Iterate) -> None:
        r0 = float(np.linalg.norm(it.D * it.x))
        self._radius = r0 if r0 > 0.0 and math.isfinite(r0) else 1.0

    def propose(self, it: Iterate, problem: ProblemLike) -> Step:
        gs, Jg_norm2 = it.cauchy
        z = dogleg_step(it.svd.gauss_newton(), gs, Jg_norm2, self._radius)
        return Step(it.unscale(z), "dogleg", GaussNewtonModel(it.g, it.J))

    def update(self, it: Iterate, step: Step, outcome: Outcome) -> None:
        z_norm = float(np.linalg.norm((it.D * outcome.step)))
        if not outcome.rho >= 0.25:  # also NaN / -inf for a non-finite trial
            self._radius = max(self._radius / 2.0, RADIUS_FLOOR)
        elif outcome.rho > 0.75:
            self._radius = max(self._radius, 3.0 * z_norm)

    def exhausted(self) -> float | None:
        return self._radius if self._radius <= RADIUS_FLOOR else None

    @property
    def radius(self) -> float:
        return self._radius
