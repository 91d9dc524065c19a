"""Gauss-Newton direction (Madsen, Nielsen & Tingleff 2004, sec. 3.1).

``h_gn`` solves ``J h = -r`` in the least-squares sense. It is the minimum-norm solution from
the SVD of the scaled Jacobian, so a rank-deficient ``J`` gives a step in the directions the
data determine (and none in the null space) instead of a ``LinAlgError`` from ``(J^T J)^{-1}``.
The length is chosen by the line search (:mod:`trustfit.globalize.line_search`).
"""
from __future__ import annotations

from ..core.problem import ProblemLike
from .base import GaussNewtonModel, Iterate, Step, StepStrategy


class GaussNewton(StepStrategy):
    name = "gn"

    def propose(self, it: Iterate, problem: ProblemLike) -> Step:
        h = it.unscale(it.svd.gauss_newton())
        return Step(h, "GN", GaussNewtonModel(it.g, it.J))
