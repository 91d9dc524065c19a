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

import math

import numpy as np
import scipy.linalg

from .quiet import quiet
from .cached import cached
from .sparse_linalg import is_large, large_column_norms

EPS = np.finfo(float).eps


def norm2(v: np.ndarray) -> float:
    """Euclidean norm that neither underflows nor overflows: ``a ||v / a||`` with ``a =
    max |v_i|`` (LAPACK ``dnrm2``'s idea). Residuals of size 1e-160 square to 0 in double
    precision, which would make any cost test call them an exact fit."""
    if not (type(v) is np.ndarray and v.dtype == np.float64 and v.ndim == 1):
        v = np.asarray(v, dtype=float).ravel()
    if v.size == 0:
        return 0.0
    with quiet():
        square = float(v @ v)
    if 1e-280 < square < 1e280:  # no term can have under- or overflowed: the plain norm
        return math.sqrt(square)
    v = np.abs(v)
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
    J = np.abs(np.asarray(J, dtype=float))  # the one m x n temporary, worked on in place
    if J.size == 0:
        return np.zeros(J.shape[1] if J.ndim == 2 else 0)
    with quiet():
        top = J.max(axis=0)  # the ndarray methods: NumPy's functions add a Python layer
        if top.size and top.min() > 0.0 and top.max() < np.inf:  # the common case, fewer passes
            np.divide(J, top, out=J)
            np.square(J, out=J)
            return top * np.sqrt(J.sum(axis=0))
        safe = np.where((top > 0.0) & np.isfinite(top), top, 1.0)
        np.divide(J, safe, out=J)
        np.square(J, out=J)
        return np.where(np.isfinite(top), safe * np.sqrt(np.sum(J, axis=0)), top)


#: Above this many entries the SVD overwrites its (scratch) input instead of copying it: at
#: m = 1e6, n = 5 one m x n array less at the peak. Below it NumPy's call is the cheaper one.
LARGE = 1 << 16


def _svd(J: np.ndarray, scratch: bool = False):
    """Thin SVD; gesdd can fail to converge on nasty matrices, gesvd is slower but sturdier.
    ``scratch``: ``J`` is the caller's temporary and may be overwritten."""
    m, n = J.shape
    if n == 0:
        return np.zeros((m, 0)), np.zeros(0), np.zeros((0, 0))
    if scratch and J.size > LARGE:
        try:
            return scipy.linalg.svd(J, full_matrices=False, overwrite_a=True,
                                    check_finite=False, lapack_driver="gesdd")
        except (np.linalg.LinAlgError, ValueError):  # J may be overwritten: the caller
            # rebuilds it and calls again
            raise np.linalg.LinAlgError("SVD did not converge") from None
    try:
        return np.linalg.svd(J, full_matrices=False)
    except np.linalg.LinAlgError:
        return scipy.linalg.svd(J, full_matrices=False, lapack_driver="gesvd")


def equilibrate(J: np.ndarray, norms: np.ndarray):
    """Thin SVD of ``J diag(1/c)`` with ``c`` the column norms (zero columns left as they are):
    ``(U, s, Vt, c)``. One factorization per iterate, shared by the Gauss-Newton step, the
    certificate (:func:`trustfit.core.stopping.certify`) and the polish."""
    c = np.asarray(norms, dtype=float)
    E = J / c if c.size and c.min() > 0.0 else J / np.where(c > 0.0, c, 1.0)
    try:
        U, s, Vt = _svd(E, scratch=True)
    except np.linalg.LinAlgError:
        U, s, Vt = _svd(J / np.where(c > 0.0, c, 1.0))
    return U, s, Vt, c


class SVDSolver:
    """Thin SVD of a (scaled) Jacobian, reused for every step computed from it.

    Every factorization is computed when a step first asks for it, once: the dogleg and
    Gauss-Newton need only the column-equilibrated one (:func:`equilibrate`, which the
    iterate may pass in, shared with the certificate), Levenberg-Marquardt only that of
    ``J`` itself. ``J`` may be given as a zero-argument callable (the scaled Jacobian is then
    built only if the damped step asks for it), with ``shape`` its shape."""

    def __init__(self, J, r: np.ndarray, noise: float = EPS, unscaled=None,
                 shape: tuple[int, int] | None = None):
        self._J = J
        self.r = r
        m, n = shape if shape is not None else J.shape
        self._n = n
        # (J_free, norms, D): the unscaled Jacobian, its column norms and the scaling, from
        # which the equilibrated factorization is computed once and shared (no closure over
        # the iterate: a reference cycle would keep every iterate's m x n arrays alive)
        self._unscaled = unscaled
        # Singular values below this share of the largest are rounding (LAPACK's eps max(m, n)),
        # or below the Jacobian's own accuracy (forward differences: sqrt(eps)): the
        # Gauss-Newton step takes no part along their directions.
        self.rcond = max(EPS * max(m, n), noise)

    @cached
    def J(self) -> np.ndarray:
        return self._J() if callable(self._J) else self._J

    @cached
    def _factors(self):
        J = self.J
        scratch = callable(self._J)  # built for this solver alone: may be overwritten
        try:
            U, s, Vt = _svd(J, scratch=scratch)
        except np.linalg.LinAlgError:  # only after a scratch attempt: rebuild and retry
            U, s, Vt = _svd(self._J())
        if scratch:
            self.__dict__.pop("J", None)
        return U, s, Vt

    @property
    def U(self) -> np.ndarray:
        return self._factors[0]

    @property
    def s(self) -> np.ndarray:
        return self._factors[1]

    @property
    def Vt(self) -> np.ndarray:
        return self._factors[2]

    @cached
    def uf(self) -> np.ndarray:
        """``U^T r``, shared by every damped solve."""
        return self.U.T @ self.r

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
        n = self._n
        U, s, Vt, c = self._equilibrated
        if s.size == 0 or s[0] == 0.0:
            return np.zeros(n)
        keep = s > self.rcond * s[0]
        if keep.all():  # full rank: the same products, without the masked copies
            coef = (np.ascontiguousarray(U.T) @ self.r) / s
        else:
            coef = np.zeros_like(s)
            coef[keep] = (U.T[keep] @ self.r) / s[keep]
        w = -(Vt.T @ coef)
        if c.min() > 0.0:
            return w / c
        return np.where(c > 0.0, w / np.where(c > 0.0, c, 1.0), 0.0)

    @cached
    def equilibrated_unscaled(self):
        """:func:`equilibrate` of the unscaled Jacobian (given as ``unscaled``), or of ``J``."""
        if self._unscaled is not None:
            J, norms, _ = self._unscaled
            return equilibrate(J, norms)
        return equilibrate(self.J, column_norms(self.J))

    @cached
    def _equilibrated(self):
        """SVD of ``J C^{-1}`` and the column norms ``C`` of ``J`` (zero columns left out), in
        the scaled variables of ``J``."""
        U, s, Vt, c = self.equilibrated_unscaled
        if self._unscaled is not None:
            c = c / self._unscaled[2]
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
