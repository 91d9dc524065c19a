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

A tall Jacobian (:func:`tall`: more than ``LARGE`` entries and at least ``2 n`` rows) is never
given an ``m x n`` ``U``: a Householder QR of ``[J C^{-1}, r]`` (``C`` the column norms) in
one scratch array gives the ``n x n`` triangle ``R`` and ``Q^T r`` (MINPACK ``lmder``'s
``qtf``), and the SVD of ``R`` gives ``s``, ``V`` and ``U^T r = U_R^T Q^T r`` (Golub & Van
Loan, sec. 5.4.5, the R-SVD; LAPACK's ``gesdd`` takes this route itself for ``m >> n``, and
then forms ``U = Q U_R``, which nothing here needs). Every step, the certificate and the
polish use only these ``n``-sized factors, so the scratch array is freed as soon as it is
factorized: at m = 1e6, n = 5 one Jacobian alive per iterate instead of four, and a QR in
place of an SVD that builds ``U``.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from .quiet import quiet
from .cached import cached
from .sparse_linalg import is_large, large_column_norms

EPS = np.finfo(float).eps
#: Above this many entries a Jacobian is large: its column norms are taken without an m x n
#: temporary, and a tall one (:func:`tall`) is factorized by QR without an m x n ``U``. Below
#: it the plain calls are the cheaper ones.
LARGE = 1 << 16


def tall(m: int, n: int) -> bool:
    """Factorize ``m x n`` by QR and the SVD of the triangle (module docstring): more than
    ``LARGE`` entries and at least twice as many rows as columns."""
    return m * n > LARGE and m >= 2 * n and n > 0


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
    J = np.asarray(J, dtype=float)
    if J.ndim == 2 and J.size > LARGE:
        return _large_column_norms(J)
    J = np.abs(J)  # the one m x n temporary, worked on in place
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


def _large_column_norms(J: np.ndarray) -> np.ndarray:
    """:func:`column_norms` of a large dense ``J`` in one pass and no ``m x n`` temporary: the
    plain sums of squares (``einsum`` forms no product array), and the safe two-pass
    computation only for a column whose sum may have under- or overflowed (the range of
    :func:`norm2`) or is not finite."""
    with np.errstate(all="ignore"):
        square = np.einsum("ij,ij->j", J, J)
    plain = (square > 1e-280) & (square < 1e280)
    norms = np.sqrt(np.where(plain, square, 0.0))
    for j in np.flatnonzero(~plain):
        column = np.abs(J[:, j])
        top = float(np.max(column))
        norms[j] = (top * float(np.linalg.norm(column / top))
                    if top > 0.0 and np.isfinite(top) else top)
    return norms


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


#: Rows per block of the blocked QR (:func:`_qr_of_equilibrated`): a block of ``[J C^{-1}, r]``
#: stays in cache, and OpenBLAS runs it on one thread. Measured at m = 1e6, n = 5 on two
#: shared cores: 1024 rows 0.10 s; 2048 rows and more start OpenBLAS's threads, which wait
#: on each other block after block (4.4 s at 2048 under load, 0.11 s on one thread).
QR_BLOCK = 1024


def _qr_of_equilibrated(J: np.ndarray, safe: np.ndarray, r: np.ndarray):
    """The triangle ``R`` (n x n) of ``J diag(1/safe) = Q R`` and ``Q^T r`` (n entries), by
    Householder QR of ``A = [J diag(1/safe), r]`` taken ``QR_BLOCK`` rows at a time: the
    triangle of the rows so far, stacked on the next block, is factorized again (the
    sequential tall-skinny QR of Demmel, Grigori, Hoemmen & Langou 2012, as backward stable
    as Householder QR of the whole; MINPACK ``lmstr`` keeps only the triangle for the same
    reason). ``Q`` is never formed and the memory is one block, not ``m x n``. The last
    column of the augmented triangle is ``Q^T r`` (MINPACK's ``qtf``)."""
    m, n = J.shape
    geqrf, = scipy.linalg.get_lapack_funcs(("geqrf",), (J,))
    upper = np.triu(np.ones((n + 1, n + 1), dtype=bool))
    triangle = np.zeros((0, n + 1))
    for start in range(0, m, QR_BLOCK):
        stop = min(start + QR_BLOCK, m)
        top = triangle.shape[0]
        block = np.empty((top + stop - start, n + 1), order="F")  # LAPACK's order: no copy
        block[:top] = triangle
        np.divide(J[start:stop], safe, out=block[top:, :n])
        block[top:, n] = r[start:stop]
        qr, _, _, info = geqrf(block, lwork=64 * (n + 1), overwrite_a=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"QR failed (LAPACK info {info})")
        top = min(qr.shape[0], n + 1)  # the reflectors below the diagonal are dropped
        triangle = np.where(upper[:top], qr[:top], 0.0)
    return triangle[:n, :n].copy(), triangle[:n, n].copy()


def _small_svd(A: np.ndarray):
    """Thin SVD of a small (n x n) matrix, gesvd where gesdd does not converge."""
    try:
        return np.linalg.svd(A, full_matrices=False)
    except np.linalg.LinAlgError:
        return scipy.linalg.svd(A, full_matrices=False, lapack_driver="gesvd")


class Equilibrated(tuple):
    """``(U, s, Vt, c)``: the thin SVD of ``J C^{-1}`` (``C`` the column norms ``c``, zero
    columns left as they are), with ``ur = U^T r``. In the tall form (:func:`tall`) ``U`` is
    ``None``; ``R`` and ``qtr`` are then the triangle and ``Q^T r`` of the QR the SVD came
    from (module docstring), from which the damped steps' factorization is derived."""

    ur: np.ndarray
    R: np.ndarray | None = None
    qtr: np.ndarray | None = None

    def __new__(cls, U, s, Vt, c, ur, R=None, qtr=None):
        value = super().__new__(cls, (U, s, Vt, c))
        value.ur, value.R, value.qtr = ur, R, qtr
        return value


def equilibrate(J: np.ndarray, norms: np.ndarray, r: np.ndarray | None = None) -> Equilibrated:
    """Thin SVD of ``J diag(1/c)`` with ``c`` the column norms (zero columns left as they are):
    ``(U, s, Vt, c)`` with ``ur = U^T r`` (``r``: the residuals the steps and the certificate
    project). One factorization per iterate, shared by the Gauss-Newton step, the certificate
    (:func:`trustfit.core.stopping.certify`) and the polish. A tall ``J`` (:func:`tall`) goes
    through QR and the SVD of the triangle, with ``U = None`` (module docstring)."""
    c = np.asarray(norms, dtype=float)
    safe = np.where(c > 0.0, c, 1.0)
    m, n = J.shape
    if r is not None and tall(m, n) and isinstance(J, np.ndarray):
        R, qtr = _qr_of_equilibrated(J, safe, r)
        U_R, s, Vt = _small_svd(R)
        return Equilibrated(None, s, Vt, c, U_R.T @ qtr, R, qtr)
    E = np.divide(J, safe, out=np.empty(J.shape, order="F"))  # LAPACK's order: not copied
    try:
        U, s, Vt = _svd(E, scratch=True)
    except np.linalg.LinAlgError:
        U, s, Vt = _svd(J / safe)
    return Equilibrated(U, s, Vt, c, U.T @ r if r is not None else None)


class SVDSolver:
    """Thin SVD of a (scaled) Jacobian, reused for every step computed from it.

    Every factorization is computed when a step first asks for it, once: the dogleg and
    Gauss-Newton need only the column-equilibrated one (:func:`equilibrate`, which the
    iterate may pass in, shared with the certificate), Levenberg-Marquardt only that of
    ``J`` itself. ``J`` may be given as a zero-argument callable (the scaled Jacobian is then
    built only if the damped step asks for it), with ``shape`` its shape. For a tall ``J``
    (:func:`tall`) the damped steps' SVD is that of the equilibrated QR's triangle with its
    columns rescaled (``J D^{-1} = Q R C D^{-1}``): no second pass over ``J``."""

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
        """``(U, s, Vt, U^T r)`` of the scaled Jacobian; ``U`` is ``None`` in the tall form."""
        equilibrated = self._equilibrated if self._unscaled is not None else None
        if equilibrated is not None and equilibrated.R is not None:
            _, _, _, c = equilibrated  # the column norms in the scaled variables
            U_R, s, Vt = _small_svd(equilibrated.R * c)
            return None, s, Vt, U_R.T @ equilibrated.qtr
        J = self.J
        scratch = callable(self._J)  # built for this solver alone: may be overwritten
        try:
            U, s, Vt = _svd(J, scratch=scratch)
        except np.linalg.LinAlgError:  # only after a scratch attempt: rebuild and retry
            U, s, Vt = _svd(self._J())
        if scratch:
            self.__dict__.pop("J", None)
        return U, s, Vt, None

    @property
    def U(self) -> np.ndarray | None:
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
        ur = self._factors[3]
        if ur is not None:
            return ur
        U = self.U
        assert U is not None  # a factorization without U (tall) carries U^T r
        return U.T @ self.r

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
        rounding-level singular vector would break the symmetry by chance. The tall form
        (``U`` not formed) takes ``U^T r`` from the factorization; the decision is the same
        ratio of singular values, each computed to ``eps s_max`` either way."""
        n = self._n
        equilibrated = self._equilibrated
        U, s, Vt, c = equilibrated
        if s.size == 0 or s[0] == 0.0:
            return np.zeros(n)
        keep = s > self.rcond * s[0]
        if U is None:
            coef = np.zeros_like(s)
            coef[keep] = equilibrated.ur[keep] / s[keep]
        elif keep.all():  # full rank: the same products, without the masked copies
            coef = (np.ascontiguousarray(U.T) @ self.r) / s
        else:
            coef = np.zeros_like(s)
            coef[keep] = (U.T[keep] @ self.r) / s[keep]
        w = -(Vt.T @ coef)
        if c.min() > 0.0:
            return w / c
        return np.where(c > 0.0, w / np.where(c > 0.0, c, 1.0), 0.0)

    @cached
    def equilibrated_unscaled(self) -> Equilibrated:
        """:func:`equilibrate` of the unscaled Jacobian (given as ``unscaled``), or of ``J``."""
        if self._unscaled is not None:
            J, norms, _ = self._unscaled
            return equilibrate(J, norms, self.r)
        return equilibrate(self.J, column_norms(self.J), self.r)

    @cached
    def _equilibrated(self) -> Equilibrated:
        """SVD of ``J C^{-1}`` and the column norms ``C`` of ``J`` (zero columns left out), in
        the scaled variables of ``J``."""
        e = self.equilibrated_unscaled
        if self._unscaled is None:
            return e
        U, s, Vt, c = e
        return Equilibrated(U, s, Vt, c / self._unscaled[2], e.ur, e.R, e.qtr)

    def damped(self, mu: float, rhs: np.ndarray | None = None) -> np.ndarray:
        """Solution of ``min ||J h + r||^2 + mu ||h||^2`` (mu > 0); with ``rhs`` given, of the
        same problem with ``rhs`` in place of ``r`` (the geodesic acceleration solve). In the
        tall form, without ``U``: ``h = -V diag(1/(s^2 + mu)) V^T J^T rhs`` (the same
        solution, ``U^T rhs = diag(1/s) V^T J^T rhs``; ``mu > 0`` bounds the division)."""
        if rhs is None:
            uf = self.uf
        elif self.U is not None:
            uf = self.U.T @ rhs
        else:
            J, _, D = self._unscaled
            # rhs brought to [1/2, 1) by a power of two (exact) first: J^T rhs must not
            # overflow where U^T rhs would not
            top = float(np.max(np.abs(rhs), initial=0.0))
            k = math.frexp(top)[1] if top > 0.0 and math.isfinite(top) else 0
            projected = np.ldexp(self.Vt @ ((J.T @ np.ldexp(rhs, -k)) / D), k)
            return -(self.Vt.T @ (projected / (self.s**2 + mu)))
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
