"""A registry of reference problems with known answers, shared by the contract tests.

Each problem gives residuals, an analytic Jacobian, starting points, bounds and a check of the
answer against a value known independently of trustfit (closed form or certified).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from trustfit import examples


@dataclass(frozen=True)
class ReferenceProblem:
    name: str
    fun: Callable
    jac: Callable
    starts: tuple
    cost: float                       # known minimum cost 1/2 ||r||^2
    x: np.ndarray | None = None       # known minimiser (None where it is not unique)
    check: Callable | None = None     # extra check of the answer, e.g. an identifiable combination
    bounds: tuple = (-np.inf, np.inf)
    active: np.ndarray | None = None  # expected active_mask at the solution
    x_rtol: float = 1e-6
    notes: str = ""
    methods: tuple = ("gn", "lm", "hybrid", "dogleg")
    extra: dict = field(default_factory=dict)


# --- textbook sum of two exponentials, from starts where all four methods converge ----------
textbook = ReferenceProblem(
    "textbook", examples.residuals, examples.jacobian,
    starts=([-0.5, -0.1, -10, 10], [-0.6, -0.15, -12, 12]),
    cost=0.0255953, x=None,
    check=lambda x: np.allclose(np.sort(x[:2]), [-0.4622, -0.2085], atol=2e-4),
    notes="cost to 6 digits from the article; either ordering of the two terms")

# --- Rosenbrock as least squares: r = (10 (x2 - x1^2), 1 - x1), minimum (1, 1), cost 0 -----
def _rosen(x):
    return np.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])


def _rosen_jac(x):
    return np.array([[-20.0 * x[0], 10.0], [-1.0, 0.0]])


rosenbrock = ReferenceProblem("rosenbrock", _rosen, _rosen_jac, starts=([-1.2, 1.0],),
                              cost=0.0, x=np.array([1.0, 1.0]))

# Rosenbrock with x1 <= 0.5: with x1 fixed the best x2 is x1^2 and the cost (1 - x1)^2 / 2
# decreases in x1, so the minimum is on the bound: (0.5, 0.25), cost 0.125.
rosenbrock_bounded = ReferenceProblem(
    "rosenbrock_bounded", _rosen, _rosen_jac, starts=([-1.2, 1.0],), cost=0.125,
    x=np.array([0.5, 0.25]), bounds=([-np.inf, -np.inf], [0.5, np.inf]),
    active=np.array([1, 0]))

# --- rank deficient: y = b0 * b1 * exp(-t); only the product is determined ------------------
_t = np.linspace(0.0, 4.0, 9)
_y_rank = 2.0 * np.exp(-_t)


def _rank(b):
    return b[0] * b[1] * np.exp(-_t) - _y_rank


def _rank_jac(b):
    e = np.exp(-_t)
    return np.column_stack([b[1] * e, b[0] * e])


rank_deficient = ReferenceProblem(
    "rank_deficient", _rank, _rank_jac, starts=([1.0, 1.0], [3.0, 0.5]), cost=0.0, x=None,
    check=lambda b: abs(b[0] * b[1] - 2.0) < 1e-7, notes="any b with b0*b1 = 2")

# --- Jacobian column zero at the start: y = a exp(b t) with a = 0 (d/db = a t e^{bt} = 0) --
_y_zero = 2.0 * np.exp(-0.5 * _t)


def _zero(p):
    return p[0] * np.exp(p[1] * _t) - _y_zero


def _zero_jac(p):
    e = np.exp(p[1] * _t)
    return np.column_stack([e, p[0] * _t * e])


zero_jacobian_start = ReferenceProblem(
    "zero_jacobian_start", _zero, _zero_jac, starts=([0.0, -1.0],), cost=0.0,
    x=np.array([2.0, -0.5]))

# --- bound active at the solution: y = 2 exp(-0.5 t) fitted with b <= 0.3 in a exp(-b t) ----
# With b on its bound the best a is linear least squares: a = sum(y e) / sum(e e), e = exp(-0.3 t).
_e03 = np.exp(-0.3 * _t)
_a_star = float(_y_zero @ _e03 / (_e03 @ _e03))


def _decay(p):
    return p[0] * np.exp(-p[1] * _t) - _y_zero


def _decay_jac(p):
    e = np.exp(-p[1] * _t)
    return np.column_stack([e, -p[0] * _t * e])


bound_active = ReferenceProblem(
    "bound_active", _decay, _decay_jac, starts=([1.0, 0.1],),
    cost=0.5 * float(np.sum((_a_star * _e03 - _y_zero) ** 2)), x=np.array([_a_star, 0.3]),
    bounds=([-np.inf, 0.0], [np.inf, 0.3]), active=np.array([0, 1]))

REGISTRY = [textbook, rosenbrock, rosenbrock_bounded, rank_deficient, zero_jacobian_start,
            bound_active]
