"""Uncertainty of fitted parameters and goodness of fit, from a :class:`~trustfit.FitResult`.

Covariance through the SVD of the column-scaled Jacobian at the solution,
``J D^-1 = U diag(s) V^T`` with ``D = diag(||J_j||)``:

``C = s2 * D^-1 V diag(1/s_i^2) V^T D^-1`` over the singular values ``s_i > rcond * s_max``,

with ``s2 = 2 F / (m - rank)`` (the residual variance; 1 with ``absolute_sigma=True``). This is
the pseudo-inverse of ``J^T J`` without forming ``J^T J`` (which squares the condition
number), as in SciPy's ``curve_fit`` and GSL's ``gsl_multifit_nlinear_covar``. The rank is
decided on the column-scaled Jacobian, so parameters of very different sizes (NIST Hahn1's
1e-9 next to 1) do not look rank deficient; for a full-rank Jacobian the result is the same
matrix. A column whose effect ``||J_j|| |x_j|`` is at most 1e-8 of the largest counts as zero
(a parameter the residuals do not depend on; see ``parameter_not_moved`` in
:mod:`trustfit.analysis.diagnostics`). Directions with singular values below the cut-off are not
determined by the data:
they are reported in ``null_space`` (columns are parameter combinations), the covariance is
the pseudo-inverse in column-scaled coordinates, ``D^-1 (J D^-1)^+ (J D^-1)^+T D^-1``, and
``rank_deficient`` is set: never a silent ``inf``. (It is a generalised inverse of ``J^T J``:
every combination the data determine gets the same variance as with the Moore-Penrose
pseudo-inverse; unlike that one it does not depend on the units of the parameters.)

The default cut-off ``rcond`` is the larger of ``eps * max(m, n)`` and the relative accuracy
of the Jacobian (``FitResult.jac_method``): ``sqrt(eps)`` for a ``'2-point'``
finite-difference Jacobian, ``eps**(2/3)`` for ``'3-point'``, ``eps**(4/5)`` for the
``'5-point'`` one the polish leaves, ``eps`` for an analytic or complex-step one. Singular values
below the Jacobian's own error are noise, not information.

Everything here is a pure function of the result. Profile-likelihood intervals re-fit the
model and so live with the strategies over solving (:mod:`trustfit.strategies.profile`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from ..core.result import FitResult
from ..core.sparse_linalg import is_large, kind_of
from ..core.quiet import quiet
from ..core.stopping import zero_columns

EPS = float(np.finfo(float).eps)
#: Up to this many entries the covariance's SVD is taken of the scaled Jacobian itself (its
#: U is small); above it through the QR factorization, without U (O(m n) memory).
SMALL = 4096
#: A sparse or operator Jacobian is densified for the covariance up to this many parameters
#: (the covariance is n x n) and entries of J (5e7 float64 = 400 MB, one dense copy).
DENSE_COVARIANCE_N = 5_000
DENSE_COVARIANCE_ENTRIES = 50_000_000
#: Relative accuracy of the Jacobian by how it was computed (``FitResult.jac_method``).
JACOBIAN_ACCURACY = {"callable": EPS, "cs": EPS, "5-point": EPS ** 0.8,
                     "3-point": EPS ** (2 / 3), "2-point": EPS ** 0.5}


@dataclass(frozen=True)
class Covariance:
    matrix: np.ndarray           # (n, n) covariance (pseudo-inverse where rank deficient)
    rank: int
    rcond: float                 # the relative singular-value cut-off used
    singular_values: np.ndarray  # of the column-scaled Jacobian at the solution, descending
    null_space: np.ndarray       # (n, n - rank) undetermined parameter combinations
    residual_variance: float     # s2 (1 with absolute_sigma)

    @property
    def rank_deficient(self) -> bool:
        return self.rank < self.matrix.shape[0]

    @property
    def stderr(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.matrix), 0.0, None))

    @property
    def correlation(self) -> np.ndarray:
        """Correlation matrix; rows/columns of parameters with zero variance are ``nan``."""
        se = self.stderr
        with np.errstate(all="ignore"):
            corr = self.matrix / np.outer(se, se)
        corr[np.diag_indices_from(corr)] = np.where(se > 0, 1.0, np.nan)
        return np.clip(corr, -1.0, 1.0)


def _singular_values_and_vectors(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Singular values (descending) and the full ``(n, n)`` right factor ``V^T`` of ``A``
    (m x n), in O(m n) memory: no ``U``.

    For ``m >= n``, ``A = Q R`` (Householder QR, only ``R`` kept) and ``R`` has the same
    singular values and right singular vectors as ``A`` (``A = (Q U_R) S V^T``), so the SVD of
    the n x n ``R`` gives them without the m x n ``U`` (Golub & Van Loan, sec. 5.4.5, the
    R-SVD). For ``m < n`` the full SVD is small and completes ``V`` to an ``n x n`` basis
    (the null space of ``A``).
    """
    m, n = A.shape
    if m < n:
        _, s, Vt = np.linalg.svd(A, full_matrices=True)
        return s, Vt
    if A.size <= SMALL:  # U costs nothing here, and one LAPACK call less than QR then SVD
        try:
            _, s, Vt = np.linalg.svd(A, full_matrices=False)
            return s, Vt
        except np.linalg.LinAlgError:
            pass  # the QR route below, with gesvd where gesdd fails
    # mode='raw' works in LAPACK's own output (no m x n copy of R or Q) and returns the
    # n x n R beside it.
    _, R = scipy.linalg.qr(A, mode="raw", overwrite_a=True, check_finite=False)
    try:
        _, s, Vt = np.linalg.svd(R)
    except np.linalg.LinAlgError:  # gesdd did not converge: gesvd is slower but sturdier
        _, s, Vt = scipy.linalg.svd(R, lapack_driver="gesvd")
    return s, Vt


def default_rcond(result: FitResult) -> float:
    m, n = np.shape(result.jac)
    accuracy = JACOBIAN_ACCURACY.get(result.jac_method, EPS)
    return max(EPS * max(m, n), accuracy)


def _power_of_two_exponent(a: np.ndarray) -> int:
    """``k`` with ``max|a| = f 2^k``, ``0.5 <= f < 1`` (0 for an all-zero array): dividing by
    ``2^k`` is exact and brings the largest entry to ``[0.5, 1)``."""
    top = float(max(np.max(a, initial=0.0), -np.min(a, initial=0.0)))
    return int(np.frexp(top)[1]) if top > 0 else 0


def _nan_covariance(n: int, rcond: float) -> Covariance:
    """A Jacobian with non-finite entries determines nothing: every entry is ``nan``."""
    return Covariance(np.full((n, n), np.nan), 0, rcond, np.full(n, np.nan), np.eye(n),
                      np.nan)


def covariance(result: FitResult, absolute_sigma: bool | None = None,
               rcond: float | None = None, jac: np.ndarray | None = None) -> Covariance:
    """Parameter covariance at ``result.x`` (see the module docstring).

    ``absolute_sigma``: ``None`` takes ``result.absolute_sigma`` (set by ``curve_fit``).
    ``jac``: use this Jacobian instead of ``result.jac`` (e.g. a more accurate one computed at
    the solution for the covariance only).

    Scale-free: ``J`` and ``r`` are first divided by exact powers of two that bring their
    largest entries to ``[0.5, 1)``, and ``s2 (J^T J)^+`` is assembled from the two scale
    factors at the end, so neither ``r^T r`` nor ``J^T J`` is formed where it could overflow
    or underflow. Multiplying ``sigma`` (or the data and the Jacobian together) by any power
    of ten leaves the rank, the null space and, up to that factor squared, ``pcov`` the same
    (with ``absolute_sigma=False`` the factors cancel: ``sigma = 1e200`` gives the pcov of
    ``sigma = 1``). Memory: O(m n), one scaled copy of ``J``; no ``U`` and no m x m array. A
    sparse or operator Jacobian is densified within the limits of :func:`dense_jacobian`.
    Entries beyond the range of floats are ``inf``, quietly: the number is that large.
    """
    with quiet():
        return _covariance(result, absolute_sigma, rcond, jac)


def dense_jacobian(J) -> np.ndarray:
    """``J`` as a dense array. A sparse or ``LinearOperator`` Jacobian is densified when the
    covariance it serves is affordable: at most :data:`DENSE_COVARIANCE_N` parameters (the
    covariance itself is a dense ``n x n`` matrix) and :data:`DENSE_COVARIANCE_ENTRIES`
    entries in ``J`` (the SVD below needs one dense copy); an operator is applied to the
    ``n`` unit vectors. Beyond that a ``ValueError`` says why and what to do."""
    if not is_large(J):
        return np.asarray(J, dtype=float)
    m, n = J.shape
    if n > DENSE_COVARIANCE_N or m * n > DENSE_COVARIANCE_ENTRIES:
        raise ValueError(
            f"the covariance of this fit is not formed: its {m} x {n} Jacobian is a "
            f"{kind_of(J)}, and the covariance needs a dense {n} x {n} matrix from a dense "
            f"copy of J (formed up to {DENSE_COVARIANCE_N} parameters and "
            f"{DENSE_COVARIANCE_ENTRIES:.0e} entries). Fit a sub-problem with fewer parameters, "
            f"or pass jac=<a dense Jacobian of the parameters you need> to covariance().")
    if hasattr(J, "toarray"):
        return np.asarray(J.toarray(), dtype=float)
    return np.asarray(J.matmat(np.eye(n)), dtype=float)


def _covariance(result: FitResult, absolute_sigma: bool | None, rcond: float | None,
                jac: np.ndarray | None) -> Covariance:
    J = dense_jacobian(result.jac if jac is None else jac)
    if J.ndim != 2:
        raise ValueError(f"the Jacobian must be a 2-D array, got shape {J.shape}.")
    m, n = J.shape
    if absolute_sigma is None:
        absolute_sigma = bool(result.absolute_sigma)
    if rcond is None:
        rcond = default_rcond(result) if jac is None else EPS * max(m, n)
    r = np.asarray(result.fun, dtype=float).ravel()
    if not np.all(np.isfinite(J)):
        return _nan_covariance(n, rcond)
    # A = J / 2^e_J, exactly, in Fortran order so that the QR below works in place.
    e_J = _power_of_two_exponent(J)
    A = np.empty((m, n), order="F")
    np.ldexp(J, -e_J, out=A)
    nrm2 = scipy.linalg.blas.dnrm2  # no squares formed: safe from under- and overflow
    norms = np.array([nrm2(A[:, j]) for j in range(n)])
    zero = np.zeros(n, dtype=bool)
    if n and jac is None:
        # A column whose effect is negligible (diagnostics.check_not_moved: a parameter the
        # residuals do not depend on) is zero: scaled to unit norm, finite-difference noise
        # in it would look like information. The rule reads J only through its column
        # norms, so it is given the 1 x n row of them (no m x n square of J).
        zero = zero_columns(norms[None, :], result.x, result.x0)
    d = np.where(norms > 0, norms, 1.0)
    # J D^-1 in place, by division: 1 / d overflows for a column of subnormal norm beside one
    # of size 1 (a zero column divides by inf and becomes exactly 0).
    A /= np.where(zero, np.inf, d)
    if n:
        s, Vt = _singular_values_and_vectors(A)
    else:
        s, Vt = np.zeros(0), np.zeros((0, 0))
    del A
    s_max = s[0] if s.size else 0.0
    keep = s > rcond * s_max if s_max > 0 else np.zeros_like(s, dtype=bool)
    rank = int(keep.sum())
    kept = np.zeros(n, dtype=bool)
    kept[: s.size] = keep
    inv_s = np.zeros(n)
    inv_s[kept] = 1.0 / s[keep]
    W = Vt.T / d[:, None]  # D^-1 V (D without its power of two)
    dof = m - rank
    if absolute_sigma:
        s2, factor = 1.0, float(np.ldexp(1.0, -e_J))
    elif dof > 0 and np.all(np.isfinite(r)):
        # s2 = ||r||^2 / dof with ||r|| = 2^e_r ||r / 2^e_r||.
        e_r = _power_of_two_exponent(r)
        rho = float(nrm2(np.ldexp(r, -e_r))) / np.sqrt(dof)
        with quiet():
            s2 = float(np.square(np.ldexp(rho, e_r)))  # for the record; may be 0 or inf
        factor = float(np.ldexp(rho, e_r - e_J))
    else:
        # No degrees of freedom left (or no finite residuals): the scale of the errors is
        # unknown.
        s2 = factor = np.nan
    with quiet():
        B = W * (inv_s * factor)  # C = B B^T, entries of B of the size of standard errors
        C = B @ B.T
    # Unit combinations in parameter units: V D^-1 with D^-1 divided by its largest entry
    # (the direction is the same; 1 / d itself may overflow for a column of 1e-310s).
    null = Vt.T[:, ~kept] * (d.min(initial=1.0) / d)[:, None]
    if null.size:
        # Largest entry to 1 first: some BLAS kernels' nrm2 does not rescale, and the norm
        # of a column of 1e-300s would underflow to 0 there.
        top = np.max(np.abs(null), axis=0)
        null = null / np.where(top > 0, top, 1.0)
        length = np.linalg.norm(null, axis=0)
        null = null / np.where(length > 0, length, 1.0)
    return Covariance(C, rank, rcond, s, null, s2)


def standard_errors(result: FitResult, absolute_sigma: bool | None = None) -> np.ndarray:
    return covariance(result, absolute_sigma).stderr


def correlation(result: FitResult) -> np.ndarray:
    return covariance(result).correlation


def confidence_intervals(result: FitResult, level: float = 0.95,
                         absolute_sigma: bool | None = None,
                         cov: Covariance | None = None) -> np.ndarray:
    """Asymptotic (linearised) intervals ``x ± q * stderr``, shape ``(n, 2)``.

    ``q`` is Student's t quantile with ``m - n`` degrees of freedom when the residual variance
    is estimated from the fit, the normal quantile with ``absolute_sigma=True`` (the variance
    is then known). Parameters in an undetermined direction get the pseudo-inverse's error.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1, got {level!r}.")
    if cov is None:
        cov = covariance(result, absolute_sigma)
    if absolute_sigma is None:
        absolute_sigma = bool(result.absolute_sigma)
    from scipy import stats  # imported here: scipy.stats alone adds 0.27 s to import trustfit

    m, n = np.shape(result.jac)
    dof = m - n
    if absolute_sigma:
        q = float(stats.norm.ppf(0.5 + level / 2))
    elif dof > 0:
        q = float(stats.t.ppf(0.5 + level / 2, dof))
    else:
        q = math.nan
    se = cov.stderr
    return np.column_stack([result.x - q * se, result.x + q * se])


@dataclass(frozen=True)
class FitStatistics:
    """Goodness of fit. ``chi2 = sum(r_i^2) = 2 F`` of the (weighted) residuals, ``redchi =
    chi2 / (m - n)``, ``aic = m ln(chi2/m) + 2 n``, ``bic = m ln(chi2/m) + n ln m`` (lmfit's
    definitions), ``r2 = 1 - chi2 / sum(w (y - ybar_w)^2)`` (``nan`` without the data)."""

    nobs: int
    nparams: int
    dof: int
    chi2: float
    redchi: float
    aic: float
    bic: float
    r2: float


def goodness_of_fit(result: FitResult, ydata: np.ndarray | None = None,
                    sigma: np.ndarray | None = None) -> FitStatistics:
    with np.errstate(all="ignore"):  # values beyond the float range are inf, quietly
        return _goodness_of_fit(result, ydata, sigma)


def _goodness_of_fit(result: FitResult, ydata: np.ndarray | None,
                     sigma: np.ndarray | None) -> FitStatistics:
    m, n = np.shape(result.jac)
    chi2 = float(2.0 * result.cost)
    dof = m - n
    redchi = chi2 / dof if dof > 0 else math.nan
    # ln(chi2 / m) as a difference of logs: chi2 / m can underflow to 0 where chi2 > 0.
    log_term = (m * (math.log(chi2) - math.log(m)) if chi2 > 0 else
                -math.inf if chi2 == 0 else math.nan)
    aic = log_term + 2 * n
    bic = log_term + n * math.log(m)
    y = ydata if ydata is not None else result.ydata
    s = sigma if sigma is not None else result.sigma
    r2 = math.nan
    if y is not None:
        y = np.asarray(y, dtype=float).ravel()
        w = np.ones_like(y) if s is None or np.ndim(s) != 1 else 1.0 / np.asarray(s) ** 2
        ybar = float(np.sum(w * y) / np.sum(w))
        sst = float(np.sum(w * (y - ybar) ** 2))
        r2 = 1.0 - chi2 / sst if sst > 0 else math.nan
    return FitStatistics(m, n, dof, chi2, redchi, aic, bic, r2)
