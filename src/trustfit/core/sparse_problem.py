"""A :class:`~trustfit.core.problem.Problem` whose Jacobian may stay sparse.

SciPy's conventions (``scipy.optimize.least_squares``): a ``jac`` that returns a
``scipy.sparse`` matrix or a ``LinearOperator`` is used as such, and with ``jac_sparsity``
the finite-difference Jacobian is computed by grouped differences
(:mod:`trustfit.core.grouped_differences`) as a sparse matrix. A ``jac`` that returns a dense
array, and finite differences without a pattern, are the dense problem's own, unchanged.
"""
from __future__ import annotations

from typing import cast

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator

from .grouped_differences import GroupedDifferences, sparsity_pattern
from .problem import Problem, real_jacobian
from .quiet import quiet
from .sparse_linalg import is_large


def large_jacobian(J, m: int, n: int):
    """A user's sparse or LinearOperator Jacobian checked like a dense one: shape ``(m, n)``
    (SciPy's wording first) and real; a sparse one as a float CSR matrix."""
    if J.shape != (m, n):
        raise ValueError(f"The return value of `jac` has wrong shape: expected {(m, n)}, "
                         f"actual {tuple(J.shape)}; rows must be residuals, columns parameters.")
    if np.issubdtype(np.dtype(J.dtype), np.complexfloating):
        raise ValueError("jac returned complex values; the Jacobian must be real (for a "
                         "complex-step derivative pass jac='cs').")
    if isinstance(J, LinearOperator):
        return J
    try:
        return sp.csr_matrix(J, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"jac must return numbers, got a sparse matrix of {J.dtype}.") from None


class SparseProblem(Problem):
    """The problem with ``sparsity`` (the user's ``jac_sparsity``, or ``None``)."""

    def __init__(self, *args, sparsity=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.sparsity = sparsity
        self._grouped: GroupedDifferences | None = None

    @property
    def groups(self) -> int | None:
        """Number of column groups of the grouped differences (``None`` before the first)."""
        return None if self._grouped is None else self._grouped.n_groups

    def jacobian(self, x: np.ndarray, f: np.ndarray, refined: bool = False,
                 out: np.ndarray | None = None):
        """As :meth:`Problem.jacobian`; ``out`` is not used (a sparse Jacobian is built anew)."""
        m = cast(int, self.m)  # known: the residuals f were evaluated first
        if callable(self._jac):
            self.njev += 1
            with quiet():
                J = self._jac(np.array(x, copy=True), *self.args, **self.kwargs)
            if is_large(J):
                return large_jacobian(J, m, self.n)
            return real_jacobian(J, m, self.n)
        if self.sparsity is None:
            return super().jacobian(x, f, refined)
        self.njev += 1
        if self._grouped is None:
            self._grouped = GroupedDifferences(sparsity_pattern(self.sparsity, m, self.n))

        def fun(point: np.ndarray) -> np.ndarray:
            return self._checked_call(point, allow_complex=self._jac == "cs")

        scheme = "5-point" if refined and self.refinable else self._jac
        step = None if scheme != self._jac else self.diff_step
        with np.errstate(all="ignore"):
            J, evaluations = self._grouped.jacobian(fun, x, f, scheme, self.lb, self.ub, step)
        self.nfev_fd += evaluations
        return J
