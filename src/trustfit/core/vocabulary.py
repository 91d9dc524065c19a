"""The vocabulary shared by the driver loop, the step strategies and the globalizations.

An :class:`Iterate` is the current point with everything a strategy needs; a strategy proposes
a :class:`Step` (with the local model that predicts its reduction, GSL ``multifit_nlinear``
``preduction``); a globalization evaluates it at a :class:`Trial` point and returns an
:class:`Outcome` (accepted or not, the gain ratio), which the strategy hears through
:meth:`StepStrategy.update` (Ceres' ``StepAccepted`` / ``StepRejected`` hooks). Defined here,
below ``steps/`` and ``globalize/``, so that neither imports the other.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol

import numpy as np

from .cached import cached
from .linalg import LARGE, SVDSolver, column_norms
from .sparse_linalg import select_columns
from .problem import ProblemLike
from .quiet import quiet
from .stopping import gradient_cosine


def _scaled_copy(J: np.ndarray, D: np.ndarray) -> np.ndarray:
    """A new ``J D^{-1}`` (the caller's to overwrite)."""
    return J / D


_ALL_TRUE: dict[int, np.ndarray] = {}


def _all_true(n: int) -> np.ndarray:
    """A read-only mask of ``n`` True values, made once per ``n``."""
    mask = _ALL_TRUE.get(n)
    if mask is None:
        mask = np.ones(n, dtype=bool)
        mask.setflags(write=False)
        _ALL_TRUE[n] = mask
    return mask


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
    #: relative accuracy of ``J`` (:func:`trustfit.core.stopping.jacobian_noise`)
    noise: float = float(np.finfo(float).eps)
    #: the column norms of ``J`` (all columns), computed once per iterate and shared by the
    #: scaling, the gradient test, the step test, the factorization and the certificate
    norms: np.ndarray | None = None
    #: False when no variable has a finite bound: every variable is then free, and the
    #: active-set mask needs no computing (the driver knows it once per run)
    bounded: bool = True
    cost: float = field(init=False)
    g: np.ndarray = field(init=False)
    free: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        with quiet():
            self.cost = 0.5 * float(self.f @ self.f)
            self.g = self.J.T @ self.f
        if self.bounded:
            self.free = free_variables(self.x, self.g, self.lb, self.ub)
            self.all_free = bool(self.free.all())
        else:
            self.free = _all_true(self.x.size)
            self.all_free = True
        if self.norms is None:
            self.norms = column_norms(self.J)

    @property
    def free_jacobian(self) -> np.ndarray:
        """The columns of the free variables: ``J`` itself (no copy) when all are free."""
        return self.J if self.all_free else select_columns(self.J, self.free)

    @property
    def free_norms(self) -> np.ndarray:
        assert self.norms is not None  # __post_init__ fills it in
        return self.norms if self.all_free else self.norms[self.free]

    @property
    def equilibrated(self):
        """Thin SVD of the free ``J`` with columns of unit norm, ``(U, s, Vt, c)``
        (:func:`trustfit.core.linalg.equilibrate`): the one factorization of this iterate
        for the Gauss-Newton and dogleg steps, the certificate and the polish (kept by
        :attr:`svd`)."""
        return self.svd.equilibrated_unscaled

    def certificate_factors(self):
        """``(U, s, U^T r)`` of :attr:`equilibrated` (``U`` is ``None`` for a tall Jacobian),
        for :func:`trustfit.core.stopping.certify`."""
        equilibrated = self.equilibrated
        U, s, _, _ = equilibrated
        return U, s, equilibrated.ur

    @cached
    def grad_norm(self) -> float:
        """``||g||_inf`` over the free variables: the first-order optimality measure."""
        g = np.abs(self.g if self.all_free else self.g[self.free])
        return float(g.max()) if g.size else 0.0  # |g| >= 0: an initial 0 changes none

    @cached
    def gradient_measure(self) -> float:
        """The gradient test's measure over the free variables: the largest cosine between the
        residuals and a Jacobian column (:func:`trustfit.core.stopping.gradient_cosine`)."""
        return gradient_cosine(self.free_jacobian, self.f, self.free_norms,
                               self.g if self.all_free else self.g[self.free])

    @property
    def scaled_jacobian(self) -> np.ndarray:
        """``J D^{-1}`` restricted to the free variables: a new array on each call, not kept
        with the iterate (m x n that would live as long as it)."""
        if self.all_free and isinstance(self.J, np.ndarray):  # column-major, as the copy below
            return np.divide(self.J, self.D, out=np.empty(self.J.shape, order="F"))
        return self.J[:, self.free] / self.D[self.free]

    @property
    def large(self) -> bool:
        """More than ``LARGE`` entries in ``J``: scaled quantities are formed from ``J``, its
        column norms and ``D`` without an ``m x n`` copy of ``J D^{-1}``."""
        return self.J.size > LARGE

    @cached
    def cauchy(self) -> tuple[np.ndarray, float]:
        """``(g_s, ||J_s g_s||^2)`` with ``J_s = J D^{-1}`` over the free variables and
        ``g_s = J_s^T r``: the steepest-descent data of the dogleg, once per iterate (a
        rejected step's next proposal reuses them). A large ``J`` gives them from
        ``g_s = g / D`` and ``J (g_s / D)``, one pass and no scaled copy; a tall one from the
        triangle of its factorization, ``||J w|| = ||R C w||`` (``J = Q R C``), no pass."""
        if not self.large:
            Js = self.scaled_jacobian
            gs = Js.T @ self.f
            Jg = Js @ gs
            return gs, float(Jg @ Jg)
        D = self.D[self.free]
        gs = self.g[self.free] / D
        equilibrated = self.equilibrated
        if equilibrated.R is not None:
            c = equilibrated[3]
            Jg = equilibrated.R @ (np.where(c > 0.0, c, 1.0) * (gs / D))
            return gs, float(Jg @ Jg)
        v = np.zeros_like(self.x)
        v[self.free] = gs / D
        Jg = self.J @ v
        return gs, float(Jg @ Jg)

    def scaled_gram_diagonal(self) -> np.ndarray:
        """``diag(J_s^T J_s)`` over the free variables, ``J_s = J D^{-1}`` (the damping's
        start); for a large ``J`` from the column norms, without a scaled copy."""
        if not self.large:
            Js = self.scaled_jacobian
            return np.sum(Js * Js, axis=0)
        return (self.free_norms / self.D[self.free]) ** 2

    @cached
    def svd(self) -> SVDSolver:
        """SVD of the scaled free Jacobian, shared by every step proposed from this point. The
        scaled Jacobian is built only for a damped step; the Gauss-Newton and dogleg steps use
        :attr:`equilibrated`. Built from arrays, not from a closure over this iterate: a
        reference cycle would keep every iterate's m x n arrays alive until garbage
        collection (m = 2e5: 16 Jacobians at the peak instead of 8)."""
        J, D = self.free_jacobian, self.D if self.all_free else self.D[self.free]
        shape = (J.shape[0], J.shape[1])
        return SVDSolver(partial(_scaled_copy, J, D), self.f, self.noise,
                         (J, self.free_norms, D), shape)

    def unscale(self, z_free: np.ndarray) -> np.ndarray:
        """Full-length step ``h`` from a step ``z`` in scaled free variables."""
        if self.all_free:
            return z_free / self.D
        h = np.zeros_like(self.x)
        h[self.free] = z_free / self.D[self.free]
        return h


class LocalModel(Protocol):
    """The model a step came from: it states how much the step promised."""

    def predicted_reduction(self, s: np.ndarray) -> float: ...


@dataclass
class Step:
    """A proposed step ``h`` (full length, zero in held variables) and the model it came from.

    ``relaxed_acceptance`` (Madsen's hybrid, quasi-Newton steps): accept also when
    ``F_new <= (1 + delta) F`` and the gradient norm decreases.
    """

    h: np.ndarray
    kind: str
    model: LocalModel
    relaxed_acceptance: float | None = None

    @cached
    def norm(self) -> float:
        return float(np.linalg.norm(self.h))


class Trial:
    """A point where the residuals were evaluated; its Jacobian is computed on demand, once.

    A trial with non-finite residuals has ``cost = inf`` and is never accepted."""

    def __init__(self, problem: ProblemLike, x: np.ndarray, f: np.ndarray | None = None,
                 J: np.ndarray | None = None, refined: bool = False):
        self.problem = problem
        self.x = x
        self.f = problem.residuals(x) if f is None else f
        with quiet():
            cost = 0.5 * float(self.f @ self.f)
        self.finite = math.isfinite(cost) and bool(np.isfinite(self.f).all())
        self.cost = cost if self.finite else math.inf
        self._J = J
        self.refined = refined

    @property
    def J(self) -> np.ndarray | None:
        return self._J

    def jacobian(self, out: np.ndarray | None = None) -> np.ndarray:
        """The Jacobian here, computed once; ``out``: an earlier Jacobian of the problem's own
        finite differences that may be overwritten (see the driver loop)."""
        if self._J is None:
            self._J = (self.problem.jacobian(self.x, self.f, self.refined) if out is None
                       else self.problem.jacobian(self.x, self.f, self.refined, out=out))
        return self._J

    @cached
    def g(self) -> np.ndarray:
        with quiet():
            return self.jacobian().T @ self.f

    @cached
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


class StepStrategy:
    """Interface of a step strategy. Subclasses keep their own state (damping, radius)."""

    name = "base"
    needs_trial_jacobian = False  # the hybrid needs J at every trial point for its BFGS update

    def start(self, it: Iterate) -> None:
        """Initialise the damping / radius from the first iterate."""

    def propose(self, it: Iterate, problem: ProblemLike) -> Step:
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
