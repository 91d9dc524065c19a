"""What every step strategy sees (an :class:`Iterate`) and returns (a :class:`Step`).

A step strategy owns its local model, and so its predicted reduction (GSL
``multifit_nlinear`` ``preduction``): the trust-region test asks the *step* how much it
promised, which keeps the hybrid's quasi-Newton model and the dogleg correct without special
cases in the driver. Strategies hear back through :meth:`StepStrategy.update` with the
:class:`~trustfit.globalize.Outcome` (accepted or not, the gain ratio, the new gradient), as in
Ceres' ``StepAccepted`` / ``StepRejected`` hooks.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from ..linalg import SVDSolver
from ..problem import Problem
from ..stopping import gradient_cosine

if TYPE_CHECKING:
    from ..globalize import Outcome


def free_variables(x: np.ndarray, g: np.ndarray, lb: np.ndarray, ub: np.ndarray) -> np.ndarray:
    """Mask of variables free to move: not held at a bound by a gradient pushing outward.

    A variable sitting on its lower bound with ``g_j > 0`` (descent would go below it), or on
    its upper bound with ``g_j < 0``, is fixed for this iteration; the step is computed over the
    others (an active-set projection, as SciPy's ``dogbox``).
    """
    held = ((x <= lb) & (g > 0.0)) | ((x >= ub) & (g < 0.0))
    return ~held


@dataclass
class Iterate:
    """The current point with everything the strategies need, computed once."""

    x: np.ndarray
    f: np.ndarray
    J: np.ndarray
    D: np.ndarray
    lb: np.ndarray
    ub: np.ndarray
    #: relative accuracy of ``J`` (:func:`trustfit.stopping.jacobian_noise`)
    noise: float = float(np.finfo(float).eps)
    cost: float = field(init=False)
    g: np.ndarray = field(init=False)
    free: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        with np.errstate(all="ignore"):
            self.cost = 0.5 * float(self.f @ self.f)
            self.g = self.J.T @ self.f
        self.free = free_variables(self.x, self.g, self.lb, self.ub)

    @cached_property
    def grad_norm(self) -> float:
        """``||g||_inf`` over the free variables: the first-order optimality measure."""
        return float(np.max(np.abs(self.g[self.free]), initial=0.0))

    @cached_property
    def gradient_measure(self) -> float:
        """The gradient test's measure over the free variables: the largest cosine between the
        residuals and a Jacobian column (:func:`trustfit.stopping.gradient_cosine`)."""
        return gradient_cosine(self.J[:, self.free], self.f)

    @cached_property
    def scaled_jacobian(self) -> np.ndarray:
        """``J D^{-1}`` restricted to the free variables."""
        return self.J[:, self.free] / self.D[self.free]

    @cached_property
    def svd(self) -> SVDSolver:
        """SVD of the scaled free Jacobian, shared by every step proposed from this point."""
        return SVDSolver(self.scaled_jacobian, self.f, self.noise)

    def unscale(self, z_free: np.ndarray) -> np.ndarray:
        """Full-length step ``h`` from a step ``z`` in scaled free variables."""
        h = np.zeros_like(self.x)
        h[self.free] = z_free / self.D[self.free]
        return h


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


@dataclass
class Step:
    """A proposed step ``h`` (full length, zero in held variables) and the model it came from.

    ``relaxed_acceptance`` (Madsen's hybrid, quasi-Newton steps): accept also when
    ``F_new <= (1 + delta) F`` and the gradient norm decreases.
    """

    h: np.ndarray
    kind: str
    model: GaussNewtonModel | QuadraticModel
    relaxed_acceptance: float | None = None

    @cached_property
    def norm(self) -> float:
        return float(np.linalg.norm(self.h))


class StepStrategy:
    """Interface of a step strategy. Subclasses keep their own state (damping, radius)."""

    name = "base"
    needs_trial_jacobian = False  # the hybrid needs J at every trial point for its BFGS update

    def start(self, it: Iterate) -> None:
        """Initialise the damping / radius from the first iterate."""

    def propose(self, it: Iterate, problem: Problem) -> Step:
        raise NotImplementedError

    def update(self, it: Iterate, step: Step, outcome: Outcome) -> None:
        """Hear what became of the step (accepted or not, gain ratio, new gradient)."""

    def exhausted(self) -> float | None:
        """The damping or radius value if it has run out of room (no step can be found)."""
        return None

    @property
    def mu(self) -> float:
        return float("nan")

    @property
    def radius(self) -> float:
        return float("nan")
