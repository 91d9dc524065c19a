"""K. Madsen's hybrid of Levenberg-Marquardt and a BFGS quasi-Newton method (Madsen 1988,
report NI-88-10; Madsen, Nielsen & Tingleff 2004, sec. 3.4).

Levenberg-Marquardt converges quadratically on small-residual problems but only linearly
when the residual at the solution is large, because ``J^T J`` then misses the second-order
term ``sum r_i r_i''`` of the Hessian. The hybrid watches for that and switches to a
quasi-Newton method whose ``B`` learns the full Hessian:

* ``B_0 = I``. After *every* trial step ``h`` (accepted or not) with Jacobian ``J_new`` and
  residuals ``r_new`` there, ``y = J_new^T J_new h + (J_new - J)^T r_new``; when ``h.y > 0``,
  BFGS: ``B += y y^T / (h.y) - (B h)(B h)^T / (h.B h)``. The ``y`` is the change of gradient
  with the Gauss-Newton part taken at the new point, Madsen's choice.
* LM mode: after three consecutive successful LM steps with ``||g_new||_inf < 0.02 F_new``
  (the gradient small compared to the cost: a large residual, slow LM convergence ahead),
  switch to QN with ``Delta = max(1.5 xtol (||x|| + xtol), ||h|| / 5)``.
* QN mode: ``B h = -g``, clipped to the radius ``Delta``; accepted if ``F_new < F`` or
  (``F_new <= (1 + delta) F`` and ``||g_new||_inf < ||g||_inf``) with ``delta = sqrt(eps)``;
  radius by MNT eq. 2.19 with the gain ratio of the quadratic model; back to LM when
  ``||g_new||_inf >= ||g||_inf`` (the QN step is not making first-order progress).

``mu`` keeps its value across the QN phase, so LM resumes where it left off.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, cast

import numpy as np

from ..core.linalg import solve_spd
from ..core.problem import ProblemLike
from .base import Iterate, QuadraticModel, Step, StepStrategy
from .damped import LevenbergMarquardt

if TYPE_CHECKING:
    from ..core.vocabulary import Outcome

EPS = np.finfo(float).eps
SWITCH_RATIO = 0.02      # ||g||_inf < 0.02 F marks a large-residual problem
SWITCH_COUNT = 3         # consecutive LM successes before switching
QN_RELAXATION = math.sqrt(EPS)


def bfgs_update(B: np.ndarray, h: np.ndarray, y: np.ndarray) -> np.ndarray:
    """BFGS update of the Hessian approximation; unchanged unless ``h.y > 0`` (curvature
    condition, keeps ``B`` positive definite)."""
    hy = float(h @ y)
    if not hy > 0.0:
        return B
    v = B @ h
    hv = float(h @ v)
    if not hv > 0.0:
        return B
    B_new = B + np.outer(y, y) / hy - np.outer(v, v) / hv
    return B_new if np.all(np.isfinite(B_new)) else B


class Hybrid(StepStrategy):
    name = "hybrid"
    needs_trial_jacobian = True

    def __init__(self, tau: float = 1e-3, damping: str = "nielsen", xtol: float | None = 1e-8):
        self.lm = LevenbergMarquardt(tau, damping)
        self.xtol = xtol or 0.0
        self.mode = "LM"
        self.B: np.ndarray | None = None
        self._count = 0
        self._radius = math.nan

    def start(self, it: Iterate) -> None:
        self.lm.start(it)
        self.B = np.eye(it.x.size)
        self.mode = "LM"
        self._count = 0

    def propose(self, it: Iterate, problem: ProblemLike) -> Step:
        if self.mode == "LM":
            return self.lm.propose(it, problem)
        free = it.free
        h = np.zeros_like(it.x)
        B = cast(np.ndarray, self.B)  # set by start()
        h[free] = solve_spd(B[np.ix_(free, free)], -it.g[free])
        norm = float(np.linalg.norm(h))
        if norm > self._radius:
            h *= self._radius / norm
        return Step(h, "QN", QuadraticModel(it.g, B), relaxed_acceptance=QN_RELAXATION)

    def update(self, it: Iterate, step: Step, outcome: Outcome) -> None:
        trial = outcome.trial
        if trial.finite and trial.J is not None:
            h = outcome.step
            y = trial.J.T @ (trial.J @ h) + (trial.J - it.J).T @ trial.f
            if np.all(np.isfinite(y)):
                self.B = bfgs_update(cast(np.ndarray, self.B), h, y)  # set by start()
        g_new = trial.grad_norm if trial.finite and trial.J is not None else math.inf

        if self.mode == "LM":
            self.lm.update(it, step, outcome)
            if outcome.accepted and g_new < SWITCH_RATIO * trial.cost:
                self._count += 1
                if self._count == SWITCH_COUNT:
                    self.mode = "QN"
                    self._count = 0
                    x_norm = float(np.linalg.norm(trial.x))
                    self._radius = max(1.5 * self.xtol * (x_norm + self.xtol), step.norm / 5.0)
            else:
                self._count = 0
            return

        # QN mode: radius from the quadratic model's gain ratio, then the switching test.
        s_norm = float(np.linalg.norm(outcome.step))
        if not outcome.rho >= 0.25:
            self._radius /= 2.0
        elif outcome.rho > 0.75:
            self._radius = max(self._radius, 3.0 * s_norm)
        if g_new >= it.grad_norm:
            self.mode = "LM"

    def exhausted(self) -> float | None:
        return self.lm.exhausted()

    @property
    def mu(self) -> float:
        return self.lm.mu

    @property
    def radius(self) -> float:
        return self._radius if self.mode == "QN" else math.nan
