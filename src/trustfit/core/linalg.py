"""Linear least-squares solves that never form or invert ``J^T J``.

Everything goes through one thin SVD ``J = U diag(s) V^T`` per Jacobian:

* Gauss-Newton, ``min ||J h + r||``: the minimum-norm solution
  ``h = -V diag(1/s_i) U^T r`` over the singular values above ``rcond * s_max``, so a
  rank-deficient Jacobian gives a step in the determined directions instead of
  ``LinAlgError`` (Golub & Van Loan, sec. 5.5).
* Levenberg-Marquardt, ``min ||J h + r||^2 + mu ||h||^2``, i.e. the augmented problem
  ``[J; sqrt(mu) I] h = [-r; 0]``: ``h = -V diag(s_i / (s_i^2 + mu)) U^T r``. Squaring the
  condition number, as the normal equations do, is avoided, and a rejected step costs only
  O(n^2) because the SVD is reused for the next ``mu`` (SciPy ``_lsq/common.solve_lsq_trust_region``
  takes the same route).
"""
from __future__ import annotations

from functools import cached_property

import numpy as np
import scipy.linalg

from .sparse_linalg import is_large, large_column_norms

EPS = np.finfo(float).eps


def norm2(v: np.ndarray) -> float:
    """Euclidean norm that neither underflows nor overflows: ``a ||v / a||`` with ``a =
    max |v_i|`` (LAPACK ``dnrm2``'s idea). Residuals of size 1e-160 square to 0 in double
    precision, which would make any cost test call them an exact fit."""
    v = np.abs(np.asarray(v, dtype=float).ravel())
    if v.size == 0:
        return 0.0
    top = float(np.max(v))
    if top == 0.0 or not np.isfinite(top):
        return top
    return top * float(np.linalg.norm(v / top))


def column_norms(J: np.ndarray) -> np.ndarray:
    """Euclidean norms of the columns of ``J``, safe from under- and overflow (see
    :func:`norm2`); a sparse matrix or LinearOperator through
    :func:`trustfit.core.sparse_linalg.large_column_norms`."""
    if is_large(J):
        return large_column_norms(J)
    J = np.abs(np.asarray(J, dtype=float))
    if J.size == 0:
        return np.zeros(J.shape[1] if J.ndim == 2 else 0)
    with np.errstate(all="ignore"):
        top = np.max(J, axis=0)
        safe = np.where((top > 0.0) & np.isfinite(top), top, 1.0)
        return np.where(np.isfinite(top), safe * np.sqrt(np.sum((J / safe) ** 2, axis=0)), top)


def _svd(J: np.ndarray):
    """Thin SVD; gesdd can fail to converge on nasty matrices, gesvd is slower but sturdier."""
    m, n = J.shape
    if n == 0:
        return np.zeros((m, 0)), np.zeros(0), np.zeros((0, 0))
    try:
        return np.linalg.svd(J, full_matrices=False)
    except np.linalg.LinAlgError:
        return scipy.linalg.svd(J, full_matrices=False, lapack_driver="gesvd")


class SVDSolver:
    """Thin SVD of a (scaled) Jacobian, reused for every step computed from it."""

    def __init__(self, J: np.ndarray, r: np.ndarray, noise: float = EPS):
        m, n = J.shape
        self.J, self.r = J, r
        self.U, self.s, self.Vt = _svd(J)
        self.uf = self.U.T @ r  # U^T r, shared by every solve
        # Singular values below this share of the largest are rounding (LAPACK's eps max(m, n)),
        # or below the Jacobian's own accuracy (forward differences: sqrt(eps)): the
        # Gauss-Newton step takes no part along their directions.
        self.rcond = max(EPS * max(m, n), noise)

    @property
    def rank(self) -> int:
        if self.s.size == 0:
            return 0
        return int(np.sum(self.s > self.rcond * self.s[0]))

    def gauss_newton(self) -> np.ndarray:
        """Solution of ``min ||J h + r||``, minimum-norm in the column-equilibrated variables.

        The rank is decided on ``J C^{-1}`` (``C`` the column norms), not on ``J``: whether a
        direction is determined must not depend on the units of the parameters (a rate in
        1/s next to an amplitude of 1e-20 would otherwise fall below ``rcond`` and never
        move). For a full-rank ``J`` this is the same step. Directions whose singular value is
        below ``rcond`` (the rounding or the Jacobian's accuracy, whichever is larger) are not
        determined by ``J`` and get no step: at an exactly symmetric point a step along the
        rounding-level singular vector would break the symmetry by chance."""
        n = self.Vt.shape[1]
        if self.s.size == 0 or self.s[0] == 0.0:
            return np.zeros(n)
        U, s, Vt, c = self._equilibrated
        if s.size == 0 or s[0] == 0.0:
            return np.zeros(n)
        keep = s > self.rcond * s[0]
        coef = np.zeros_like(s)
        coef[keep] = (U.T[keep] @ self.r) / s[keep]
        w = -(Vt.T @ coef)
        return np.where(c > 0.0, w / np.where(c > 0.0, c, 1.0), 0.0)

    @cached_property
    def _equilibrated(self):
        """SVD of ``J C^{-1}`` and the column norms ``C`` (zero columns left out)."""
        c = column_norms(self.J)
        E = self.J / np.where(c > 0.0, c, 1.0)
        U, s, Vt = _svd(E)
        return U, s, Vt, c

    def damped(self, mu: float, rhs: np.ndarray | None = None) -> np.ndarray:
        """Solution of ``min ||J h + r||^2 + mu ||h||^2`` (mu > 0); with ``rhs`` given, of the
        same problem with ``rhs`` in place of ``r`` (the geodesic acceleration solve)."""
        uf = self.uf if rhs is None else self.U.T @ rhs
        return -(self.Vt.T @ (self.s * uf / (self.s**2 + mu)))


def solve_spd(B: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve ``B h = rhs`` for a symmetric positive definite ``B`` (Cholesky), falling back to
    the minimum-norm least-squares solution if ``B`` has lost definiteness to rounding."""
    try:
        c = scipy.linalg.cho_factor(B, check_finite=False)
        h = scipy.linalg.cho_solve(c, rhs, check_finite=False)
        if np.all(np.isfinite(h)):
            return h
    except (np.linalg.LinAlgError, ValueError):
        pass
    return np.linalg.lstsq(B, rhs, rcond=None)[0]
