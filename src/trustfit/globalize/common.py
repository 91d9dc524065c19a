"""Trial points and the outcome of trying a step."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..problem import Problem
from ..steps.base import free_variables


class Trial:
    """A point where the residuals were evaluated; its Jacobian is computed on demand, once.

    A trial with non-finite residuals has ``cost = inf`` and is never accepted."""

    def __init__(self, problem: Problem, x: np.ndarray, f: np.ndarray | None = None,
                 J: np.ndarray | None = None, refined: bool = False):
        self.problem = problem
        self.x = x
        self.f = problem.residuals(x) if f is None else f
        with np.errstate(all="ignore"):
            cost = 0.5 * float(self.f @ self.f)
        self.finite = bool(np.all(np.isfinite(self.f))) and math.isfinite(cost)
        self.cost = cost if self.finite else math.inf
        self._J = J
        self.refined = refined

    @property
    def J(self) -> np.ndarray | None:
        return self._J

    def jacobian(self) -> np.ndarray:
        if self._J is None:
            self._J = self.problem.jacobian(self.x, self.f, self.refined)
        return self._J

    @cached_property
    def g(self) -> np.ndarray:
        with np.errstate(all="ignore"):
            return self.jacobian().T @ self.f

    @cached_property
    def grad_norm(self) -> float:
        free = free_variables(self.x, self.g, self.problem.lb, self.problem.ub)
        value = float(np.max(np.abs(self.g[free]), initial=0.0))
        return value if math.isfinite(value) else math.inf


@dataclass
class Outcome:
    """What became of a step: the trial, whether it was accepted, the gain ratio ``rho``
    (actual over predicted reduction, ``nan`` for a line search) and the step actually taken
    (after projection onto the bounds and any shortening)."""

    trial: Trial
    accepted: bool
    step: np.ndarray
    rho: float = math.nan
    predicted: float = math.nan
    line_search_failed: bool = False
    note: str = ""
