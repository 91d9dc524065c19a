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

import numpy as np
import scipy.linalg

EPS = np.finfo(float).eps


class SVDSolver:
    """Thin SVD of a (scaled) Jacobian, reused for every step computed from it."""

    def __init__(self, J: np.ndarray, r: np.ndarray):
        m, n = J.shape
        if n == 0:
            self.U, self.s, self.Vt = np.zeros((m, 0)), np.zeros(0), np.zeros((0, 0))
        else:
            try:
                self.U, self.s, self.Vt = np.linalg.svd(J, full_matrices=False)
            except np.linalg.LinAlgError:
                # gesdd can fail to converge on nasty matrices; gesvd is slower but sturdier.
                self.U, self.s, self.Vt = scipy.linalg.svd(
                    J, full_matrices=False, lapack_driver="gesvd")
        self.uf = self.U.T @ r  # U^T r, shared by every solve
        self.rcond = EPS * max(m, n)

    @property
    def rank(self) -> int:
        if self.s.size == 0:
            return 0
        return int(np.sum(self.s > self.rcond * self.s[0]))

    def gauss_newton(self) -> np.ndarray:
        """Minimum-norm solution of ``min ||J h + r||``."""
        if self.s.size == 0 or self.s[0] == 0.0:
            return np.zeros(self.Vt.shape[1])
        keep = self.s > self.rcond * self.s[0]
        coef = np.zeros_like(self.s)
        coef[keep] = self.uf[keep] / self.s[keep]
        return -(self.Vt.T @ coef)

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
