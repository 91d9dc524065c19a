"""The local models of the step strategies; the vocabulary they share with the loop and the
globalizations (:class:`Iterate`, :class:`Step`, :class:`StepStrategy`) is
:mod:`trustfit.core.vocabulary`, re-exported here for the strategies.

A step strategy owns its local model, and so its predicted reduction (GSL
``multifit_nlinear`` ``preduction``): the trust-region test asks the *step* how much it
promised, which keeps the hybrid's quasi-Newton model and the dogleg correct without special
cases in the driver.
"""
from __future__ import annotations

import numpy as np

from ..core.vocabulary import Iterate, Step, StepStrategy, free_variables

__all__ = ["GaussNewtonModel", "Iterate", "QuadraticModel", "Step", "StepStrategy",
           "free_variables"]


class GaussNewtonModel:
    """``L(h) = 1/2 ||r + J h||^2``; predicted reduction ``L(0) - L(s) = -g.s - 1/2 ||J s||^2``.

    Evaluated for the step actually taken (after projection onto the bounds), in this form
    rather than as a difference of two norms, which would cancel."""

    def __init__(self, g: np.ndarray, J: np.ndarray):
        self.g, self.J = g, J

    def predicted_reduction(self, s: np.ndarray) -> float:
        Js = self.J @ s
        return float(-(self.g @ s) - 0.5 * (Js @ Js))


class QuadraticModel:
    """``q(h) = F + g.h + 1/2 h^T B h`` with a Hessian approximation ``B`` (quasi-Newton)."""

    def __init__(self, g: np.ndarray, B: np.ndarray):
        self.g, self.B = g, B

    def predicted_reduction(self, s: np.ndarray) -> float:
        return float(-(self.g @ s) - 0.5 * (s @ self.B @ s))
