"""Trust-region acceptance test (the gain ratio).

``rho = (F(x) - F(x + s)) / (L(0) - L(s))`` with ``L`` the step's own model and ``s`` the
step actually taken (the proposed ``h`` projected onto the bounds). A step is accepted when
``rho > 0`` (Madsen, Nielsen & Tingleff 2004, Alg. 3.16). Steps proposed with
``relaxed_acceptance = delta`` (the hybrid's quasi-Newton steps) are also accepted when
``F_new <= (1 + delta) F`` and the gradient norm decreases (MNT Alg. 3.27).
A trial with non-finite residuals gets ``rho = -inf``: rejected, and the strategy shrinks.
"""
from __future__ import annotations

import math
import numpy as np

from ..core.problem import ProblemLike
from ..core.quiet import quiet
from ..core.vocabulary import Iterate, Outcome, Step, Trial


class TrustRegionTest:
    def try_step(self, problem: ProblemLike, it: Iterate, step: Step) -> Outcome:
        x_new = np.clip(it.x + step.h, it.lb, it.ub) if it.bounded else it.x + step.h
        s = x_new - it.x
        trial = Trial(problem, x_new)
        with quiet():
            predicted = step.model.predicted_reduction(s)
        if not trial.finite:
            return Outcome(trial, False, s, -math.inf, predicted, note="non-finite residuals")
        actual = it.cost - trial.cost
        if predicted > 0.0:
            rho = actual / predicted
        else:  # the model promised nothing (rounding at convergence): judge by the cost alone
            rho = 1.0 if actual > 0.0 else -math.inf
        accepted = rho > 0.0
        if step.relaxed_acceptance is not None and not accepted:
            accepted = (trial.cost <= (1.0 + step.relaxed_acceptance) * it.cost
                        and trial.grad_norm < it.grad_norm)
        return Outcome(trial, accepted, s, rho, predicted)
