"""The linear algebra of orthogonal distance regression, with the corrections to x eliminated.

The problem (Boggs, Byrd & Schnabel, "A stable and efficient algorithm for nonlinear
orthogonal distance regression", SIAM J. Sci. Stat. Comput. 8 (1987) 1052-1078) is

``min over p, delta of  1/2 sum_i r1_i^2 + 1/2 sum_ij r2_ij^2``,
``r1_i = (f(x_i + delta_i, p) - y_i) / sigma_y,i``,  ``r2_ij = delta_ij / sigma_x,ij``,

with ``n`` parameters, ``m`` points and ``k`` independent variables (``delta_i`` in R^k). The
stacked residual's Jacobian has the block structure

``J = [[A, diag(a_1) ... diag(a_k)], [0, diag(b)]]``,  ``A = dr1/dp`` (m x n, dense),
``a_j = dr1/d delta_j`` (one number per point), ``b = 1/sigma_x`` (k m numbers),

dense in ``p`` and diagonal in each ``delta_j``. The Levenberg-Marquardt step minimises
``||r + J h||^2 + mu (||D_p h_p||^2 + ||D_d h_d||^2)``. For fixed ``h_p`` the corrections of
each point decouple into a k-variable problem with the closed-form solution below, and
substituting it back leaves an m x n weighted least-squares problem in ``h_p`` alone (the
Schur complement of the delta block, formed per point, never as a matrix):

* ``c_ij = b_ij^2 + mu D_d,ij^2``,  ``omega_i = 1 / (1 + sum_j a_ij^2 / c_ij)``,
* ``rt_i = r1_i - sum_j a_ij b_ij r2_ij / c_ij``,
* ``h_p`` solves ``min ||sqrt(omega) (rt + A h_p)||^2 + mu ||D_p h_p||^2`` (an SVD of the
  m x n reduced Jacobian ``sqrt(omega) A``, :class:`trustfit.core.linalg.SVDSolver`),
* ``h_d,ij = -omega_i a_ij (rt_i + A_i h_p) / c_ij - b_ij r2_ij / c_ij``.

(The derivation: for one point, completing the square in each ``delta_j`` leaves
``(u + a.z)^2 + sum_j c_j z_j^2``, whose minimum over ``z`` is ``u^2 / (1 + sum a_j^2 / c_j)``
by the Sherman-Morrison formula.) Every step costs O(m n^2 + k m) and O(m n) memory instead of
the O((m + n)^3) of a dense solve; it is exactly the dense step, with no approximation. At
``mu = 0`` with one variable, ``omega_i = sigma_y^2 / (sigma_y^2 + f_x^2 sigma_x^2)``: the
effective-variance weights. The covariance of ``p`` is the inverse of the Schur complement
``(sqrt(omega) A)^T (sqrt(omega) A)`` at ``mu = 0``, the ``p`` block of ``(J^T J)^-1`` (Boggs &
Rogers 1990, "The computation and use of the asymptotic covariance matrix for measurement error
models"), as ODRPACK computes it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import scipy.linalg

from ..core.linalg import SVDSolver, column_norms
from ..core.result import StopReason
from ..core.stopping import EPS, CONDITION_LIMIT, STATIONARY_LIMIT, exact_fit, zero_columns


def dot(u: np.ndarray, v: np.ndarray) -> float:
    """``u . v`` over all entries. (einsum, not BLAS ``ddot``: on a loaded machine a
    threaded level-1 BLAS call on 1e5 numbers costs milliseconds, einsum microseconds.)"""
    return float(np.einsum("i,i->", u.ravel(), v.ravel()))


def norm(*parts: np.ndarray) -> float:
    """Euclidean norm of the concatenated ``parts``, safe from under- and overflow (the
    largest entry divided out first, as :func:`trustfit.core.linalg.norm2`)."""
    top = max(float(np.max(np.abs(v), initial=0.0)) for v in parts)
    if top == 0.0 or not math.isfinite(top):
        return top
    return top * math.sqrt(sum(dot(v / top, v / top) for v in parts))


@dataclass
class Linearization:
    """Residuals and Jacobian blocks at one point ``(p, delta)``, in the solver's units."""

    r1: np.ndarray  # (m,)   (f(x + delta, p) - y) / sigma_y
    r2: np.ndarray  # (k, m) delta / sigma_x
    A: np.ndarray   # (m, n) d r1 / d p
    a: np.ndarray   # (k, m) d r1 / d delta_j
    b: np.ndarray   # (k, m) 1 / sigma_x
    fval: np.ndarray | None = None  # the model's values there (user units), when known
    _norms: tuple | None = field(default=None, repr=False)
    _gradient: tuple | None = field(default=None, repr=False)

    @property
    def cost(self) -> float:
        return 0.5 * (dot(self.r1, self.r1) + dot(self.r2, self.r2))

    @property
    def residual_norm(self) -> float:
        return norm(self.r1, self.r2)

    def column_norms(self) -> tuple[np.ndarray, np.ndarray]:
        """Norms of the Jacobian's columns: ``||A_j||`` for the parameters,
        ``sqrt(a^2 + b^2)`` for each correction (computed once)."""
        if self._norms is None:
            self._norms = column_norms(self.A), np.hypot(self.a, self.b)
        return self._norms

    def gradient(self) -> tuple[np.ndarray, np.ndarray]:
        """``J^T r``: ``A^T r1`` and ``a r1 + b r2`` (computed once)."""
        if self._gradient is None:
            self._gradient = self.A.T @ self.r1, self.a * self.r1 + self.b * self.r2
        return self._gradient

    def gradient_cosine(self) -> float:
        """MINPACK's gradient measure over every column of the full Jacobian: the largest
        ``|J_j . r| / (||J_j|| ||r||)`` (:func:`trustfit.core.stopping.gradient_cosine`)."""
        r_norm = self.residual_norm
        if r_norm == 0.0 or not math.isfinite(r_norm):
            return 0.0 if r_norm == 0.0 else math.inf
        gp, gd = self.gradient()
        cp, cd = self.column_norms()
        with np.errstate(all="ignore"):
            cos_p = np.abs(gp) / np.where(cp > 0, cp, 1.0)
            cos_d = np.abs(gd) / np.where(cd > 0, cd, 1.0)
        value = max(float(np.max(cos_p, initial=0.0)), float(np.max(cos_d, initial=0.0)))
        return value / r_norm

    def reduced(self, mu: float = 0.0, Dd: np.ndarray | None = None):
        """``(J_red, r_red, omega, rt, c)``: the m x n problem in ``h_p`` left after the
        corrections are eliminated (module docstring), with damping ``mu D_d^2`` on them."""
        D = cast(np.ndarray, Dd)  # given whenever mu > 0
        c = self.b * self.b if mu == 0.0 else self.b * self.b + mu * D * D
        omega = 1.0 / (1.0 + np.sum(self.a * self.a / c, axis=0))
        rt = self.r1 - np.sum(self.a * self.b * self.r2 / c, axis=0)
        w = np.sqrt(omega)
        return self.A * w[:, None], w * rt, omega, rt, c

    def back_substitute(self, hp: np.ndarray, omega: np.ndarray, rt: np.ndarray,
                        c: np.ndarray) -> np.ndarray:
        """The corrections' step for the parameters' step ``hp``."""
        u = rt + self.A @ hp
        return -(omega * u) * self.a / c - self.b * self.r2 / c

    def _factor(self, Jr: np.ndarray, rr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(R, Q^T rr)`` of a Householder QR of the reduced Jacobian, from one QR of
        ``[Jr C^-1, rr]`` (``C`` the column norms of ``A``, an exact-enough equilibration):
        ``||Jr h + rr||^2 = ||R h + Q^T rr||^2 + const``, so every solve below is n x n
        (the R-SVD of Golub & Van Loan, sec. 5.4.5), and no m x n ``U`` is formed."""
        m, n = Jr.shape
        cp = self.column_norms()[0]
        scale = np.where(cp > 0, cp, 1.0)
        M = np.empty((m, n + 1), order="F")
        np.divide(Jr, scale, out=M[:, :n])
        M[:, n] = rr
        R = scipy.linalg.qr(M, mode="raw", overwrite_a=True, check_finite=False)[1]
        top = np.zeros((n + 1, n + 1))
        top[: R.shape[0]] = R[: n + 1]
        return top[:n, :n] * scale, top[:n, n]

    def damped_step(self, mu: float, Dp: np.ndarray, Dd: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
        """The Levenberg-Marquardt step ``(h_p, h_d)`` of the full problem with damping
        ``mu`` in the variables scaled by ``D_p``, ``D_d``."""
        Jr, rr, omega, rt, c = self.reduced(mu, Dd)
        R, qr = self._factor(Jr, rr)
        hp = SVDSolver(R / Dp, qr).damped(mu) / Dp
        return hp, self.back_substitute(hp, omega, rt, c)

    def gauss_newton_step(self, noise: float) -> tuple[np.ndarray, np.ndarray]:
        """The minimum-norm Gauss-Newton step of the full problem (``mu = 0``); the
        corrections are always determined (``b > 0``), so the rank is decided on the reduced
        Jacobian, in column-equilibrated variables (:meth:`SVDSolver.gauss_newton`, with the
        cut-off ``eps m`` of the m x n problem)."""
        Jr, rr, omega, rt, c = self.reduced()
        R, qr = self._factor(Jr, rr)
        hp = SVDSolver(R, qr, max(noise, EPS * Jr.shape[0])).gauss_newton()
        return hp, self.back_substitute(hp, omega, rt, c)

    def reduced_singular_values(self) -> np.ndarray:
        """Singular values of the column-scaled reduced Jacobian at ``mu = 0``."""
        Jr, rr, *_ = self.reduced()
        R, _ = self._factor(Jr, rr)
        norms = column_norms(R)
        return np.linalg.svd(R / np.where(norms > 0, norms, 1.0), compute_uv=False)

    def linear_change(self, hp: np.ndarray, hd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``J h`` in its two blocks."""
        return self.A @ hp + np.sum(self.a * hd, axis=0), self.b * hd

    def predicted_reduction(self, hp: np.ndarray, hd: np.ndarray) -> float:
        """``L(0) - L(h) = -r.Jh - 1/2 ||Jh||^2`` of the Gauss-Newton model."""
        top, bottom = self.linear_change(hp, hd)
        rJh = dot(self.r1, top) + dot(self.r2, bottom)
        JhJh = dot(top, top) + dot(bottom, bottom)
        return -rJh - 0.5 * JhJh


def certify(lin: Linearization, p: np.ndarray, p0: np.ndarray, tolerance: float,
            noise: float) -> tuple[StopReason | None, float]:
    """The certificate of :func:`trustfit.core.stopping.certify` for the full problem.

    * exact fit (every residual at the rounding level of the model's terms): certified;
    * degenerate: a parameter without influence (:func:`~trustfit.core.stopping.zero_columns`)
      or a condition number of the column-scaled reduced Jacobian above ``CONDITION_LIMIT``.
      The corrections' own columns are always well determined (``b > 0``), so degeneracy
      can only come from the Schur complement, whose singular values are those of the
      parameters with the corrections eliminated;
    * stationary: the share ``||J h_GN|| / ||r||`` of the *full* residual the full
      Gauss-Newton step could still remove is at most ``max(STATIONARY_LIMIT,
      sqrt(tolerance))``, so a point stationary in ``p`` but not in the corrections is
      refused. Ratios of quantities that scale alike, as in the core certificate.
    """
    r_norm = lin.residual_norm
    Jr, rr, *_ = lin.reduced()
    if r_norm == 0.0 or exact_fit(Jr, np.concatenate([lin.r1, lin.r2.ravel()]), p):
        return None, 0.0
    if not np.all(np.isfinite(Jr)) or np.any(zero_columns(Jr, p, p0, noise, rr)):
        return StopReason.DEGENERATE, math.inf
    s = lin.reduced_singular_values()
    condition = float(s[0] / s[-1]) if s[-1] > 0.0 else math.inf
    if condition > CONDITION_LIMIT:
        return StopReason.DEGENERATE, condition
    hp, hd = lin.gauss_newton_step(noise)
    top, bottom = lin.linear_change(hp, hd)
    share = norm(top, bottom) / r_norm
    if share > max(STATIONARY_LIMIT, math.sqrt(tolerance)):
        return StopReason.STALLED, share
    return None, share
