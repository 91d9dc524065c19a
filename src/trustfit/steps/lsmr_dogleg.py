"""Powell's dogleg with the Gauss-Newton step by LSMR, for sparse and operator Jacobians.

The dogleg of :mod:`trustfit.steps.dogleg` (Madsen, Nielsen & Tingleff 2004, sec. 3.3), with
the Gauss-Newton step ``z_gn = argmin ||A z + r||`` (``A = J D^{-1}``, free columns) computed
by LSMR (Fong & Saunders 2011) instead of an SVD, and the Cauchy point from two products,
``g = A^T r`` and ``A g``: nothing of size ``m x n`` is formed.

As SciPy's ``trf`` with ``tr_solver='lsmr'`` (option ``regularize``, default True), the
Gauss-Newton problem is regularized by ``damp^2 = -q* / Delta^2`` where
``q* = min_{0 <= t <= Delta/||g||} q(-t g)`` is the model's best decrease along the gradient
inside the trust region: a rank-deficient or ill-conditioned ``A`` then gives a Gauss-Newton
step of the trust region's size, not an unbounded one. The damping is relative to the model's
own decrease and radius, so it is free of the units of the data and the parameters. The
option ``damp`` adds a fixed Tikhonov term, as in SciPy.
"""
from __future__ import annotations

import math

import numpy as np

from .base import GaussNewtonModel, Iterate, Step
from .damped_lsmr import IterativeOperator, forced_options, solve_damped
from .dogleg import Dogleg, dogleg_step


def regularization(g: np.ndarray, Ag_norm2: float, radius: float) -> float:
    """``-q* / Delta^2`` (module docstring): ``q(t) = -t ||g||^2 + t^2 ||A g||^2 / 2``."""
    g2 = float(g @ g)
    if g2 == 0.0 or not math.isfinite(g2) or not radius > 0.0:
        return 0.0
    t_max = radius / math.sqrt(g2)
    t = min(g2 / Ag_norm2, t_max) if Ag_norm2 > 0.0 else t_max
    q = -t * g2 + 0.5 * t * t * Ag_norm2
    return max(0.0, -q / radius**2)


class LSMRDogleg(Dogleg):
    """Powell's dogleg with the Gauss-Newton step by LSMR (``options``: LSMR's ``atol, btol,
    conlim, maxiter``; ``regularize`` and ``damp`` as SciPy's ``tr_options``)."""

    def __init__(self, options: dict | None = None, regularize: bool = True,
                 damp: float = 0.0):
        super().__init__()
        self.options = dict(options or {})
        self.regularize, self.damp = regularize, damp
        self._operator = IterativeOperator()

    def propose(self, it: Iterate, problem) -> Step:
        A = self._operator(it)
        gs = np.asarray(A.T @ it.f).ravel()
        Ag = np.asarray(A @ gs).ravel()
        Ag2 = float(Ag @ Ag)
        extra = regularization(gs, Ag2, self._radius) if self.regularize else 0.0
        options = forced_options(self.options, A, it.f, gs, math.sqrt(Ag2))
        z_gn = solve_damped(A, it.f, math.sqrt(self.damp**2 + extra), options)
        z = dogleg_step(z_gn, gs, Ag2, self._radius)
        return Step(it.unscale(z), "dogleg", GaussNewtonModel(it.g, it.J))
