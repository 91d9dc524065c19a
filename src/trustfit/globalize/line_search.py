"""Armijo backtracking line search (Madsen, Nielsen & Tingleff 2004, sec. 2.3; Nocedal &
Wright 2006, Alg. 3.1).

Along the projected path ``x(alpha) = P(x + alpha h)`` try ``alpha = 1, 1/2, 1/4, ...`` and
accept the first with sufficient decrease ``F(x(alpha)) <= F(x) + c g.(x(alpha) - x)``,
``c = 1e-4``. Non-finite residuals count as no decrease. When ``h`` is not a descent direction
or the trial step has shrunk below rounding level without decrease, the search fails and the
driver stops with ``LINE_SEARCH_FAILED``, keeping the best point (the current one).
"""
from __future__ import annotations

import numpy as np

from ..core.problem import ProblemLike
from ..core.vocabulary import Iterate, Outcome, Step, Trial



class ArmijoBacktracking:
    def __init__(self, c: float = 1e-4, shrink: float = 0.5, max_halvings: int = 60):
        self.c, self.shrink, self.max_halvings = c, shrink, max_halvings

    def try_step(self, problem: ProblemLike, it: Iterate, step: Step) -> Outcome:
        alpha = 1.0
        trial = None
        s = np.zeros_like(it.x)
        if float(it.g @ step.h) < 0.0:
            for _ in range(self.max_halvings):
                x_new = np.clip(it.x + alpha * step.h, it.lb, it.ub)
                if np.array_equal(x_new, it.x):  # the step is below rounding level
                    break
                s = x_new - it.x
                trial = Trial(problem, x_new)
                slope = float(it.g @ s)
                # Strict decrease too: at rounding level "F <= F + c*slope" holds with equality.
                if trial.finite and trial.cost < it.cost and trial.cost <= it.cost + self.c * slope:
                    # The step owns its model: the driver's cost test reads this.
                    return Outcome(trial, True, s,
                                   predicted=step.model.predicted_reduction(s),
                                   note=f"alpha={alpha:.3g}")
                alpha *= self.shrink
        if trial is None:  # no descent direction: nothing was evaluated, stay put
            trial = Trial(problem, it.x, it.f, it.J)
        return Outcome(trial, False, s, line_search_failed=True,
                       note="no step length decreased the cost")
