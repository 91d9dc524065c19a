"""The certificate of :func:`trustfit.core.stopping.certify` for sparse and operator Jacobians,
without a dense SVD: the same tests, with iterative estimates where the dense certificate
takes singular values, and saying so.

With ``A = J diag(1/||J_j||)`` (the column-scaled Jacobian of the free variables):

* exact fit, zero columns: as the dense certificate (:func:`stopping.exact_fit`,
  :func:`stopping.zero_columns`; column norms of a sparse matrix are exact, of a
  LinearOperator estimated, :mod:`trustfit.core.sparse_linalg`);
* condition number: LSMR (Fong & Saunders 2011) solves the consistent system ``A y = A z``
  for a seeded random ``z`` to the relative tolerance ``TOLERANCE``. It returns its own
  estimate of ``cond(A)`` (from the bidiagonalization; a lower bound that grows with the
  iterations), and the defect ``||y - z|| / ||z||`` is a second, *sampled* lower bound: the
  minimum-norm solution misses ``z``'s component in the null space of ``A`` (Krylov methods
  from ``A^T b`` never see it), and along a singular value ``s`` it is only resolved to
  ``TOLERANCE ||A|| / s``, so ``cond(A) >= defect / (2 TOLERANCE)``. A Jacobian of rank
  ``n - k`` shows a defect near ``sqrt(k / n)``: refused for any ``n`` below ``1e8``. The
  larger of the two estimates is tested against ``CONDITION_LIMIT``;
* stationarity: ``||P r|| / ||r||`` (``P`` the projector on the range of ``A``) as ``||A y||``
  with ``y`` LSQR's solution of ``min ||A y - r / ||r||||`` (Paige & Saunders 1982): ``A y``
  is the projection of ``r`` on ``A`` times the Krylov space, so the share is never
  overestimated, and it is exact when LSQR converges.

Each solve is capped at ``MAX_ITERATIONS`` products; where a cap is reached the estimate is a
lower bound only, and the note says so. Every quantity is a ratio of quantities that scale
alike (the columns are normalized, the residual is a unit vector), so the verdict is as free
of the units of the data and of the parameters as the dense one.
"""
from __future__ import annotations

import math

import numpy as np

from . import stopping
from .linalg import column_norms, norm2
from .result import StopReason
from .sparse_linalg import all_finite, is_large, kind_of, product_operator, scale_columns

#: Relative tolerance (LSMR/LSQR ``atol = btol``) of the certificate's solves.
TOLERANCE = 1e-12
#: Largest number of LSMR/LSQR iterations per estimate.
MAX_ITERATIONS = 500


class Verdict(tuple):
    """``(reason, value)`` as :data:`trustfit.core.stopping.Verdict`, with ``note``: how the
    verdict was reached where it took iterative estimates (``''`` for the dense certificate)."""

    note: str = ""

    def __new__(cls, reason, value, note: str = ""):
        verdict = super().__new__(cls, (reason, value))
        verdict.note = note
        return verdict


def certify(J, r: np.ndarray, cost: float, x: np.ndarray, x0: np.ndarray,
            tolerance: float = 0.0, noise: float = stopping.EPS,
            norms: np.ndarray | None = None, factors=None) -> Verdict:
    """:func:`trustfit.core.stopping.certify` for a dense ``J`` (with the iterate's column
    ``norms`` and its factorization ``factors`` where the driver has them); for a sparse or
    operator ``J`` the iterative certificate of the module docstring."""
    if not is_large(J):
        return Verdict(*stopping.certify(J, r, cost, x, x0, tolerance, noise, norms, factors))
    m, n = J.shape
    what = f"the {kind_of(J)} {m} x {n} Jacobian"
    if n == 0 or norm2(r) == 0.0 or stopping.exact_fit(J, r, x):
        return Verdict(None, 0.0, f"certificate of {what}: an exact fit to rounding (no "
                                  "singular values needed).")
    if not all_finite(J) or np.any(stopping.zero_columns(J, x, x0, noise, r)):
        return Verdict(StopReason.DEGENERATE, math.inf,
                       f"certificate of {what}: a column without influence.")
    norms = column_norms(J)
    A = product_operator(scale_columns(J, 1.0 / np.where(norms > 0.0, norms, 1.0)))
    condition, capped_c = condition_estimate(A)
    limits = " (iteration cap reached: a lower bound)"
    note = (f"certificate of {what} by iterative estimates (no dense SVD): condition number "
            f"of the column-scaled Jacobian >= {condition:.3g} (LSMR estimate and a sampled "
            f"null-space check){limits if capped_c else ''}")
    if condition > stopping.CONDITION_LIMIT:
        return Verdict(StopReason.DEGENERATE, condition, note + ".")
    share, capped_s = stationary_share(A, r)
    note += (f"; share of the residual in the range of J {share:.3g} (LSQR projection)"
             f"{limits if capped_s else ''}.")
    if share > max(stopping.STATIONARY_LIMIT, math.sqrt(tolerance)):
        return Verdict(StopReason.STALLED, share, note)
    return Verdict(None, share, note)


def condition_estimate(A) -> tuple[float, bool]:
    """A lower estimate of ``cond(A)`` and whether the iteration cap was reached (module
    docstring)."""
    from scipy.sparse.linalg import lsmr  # here: a dense fit never loads scipy.sparse

    n = A.shape[1]
    z = np.random.default_rng(n).choice((-1.0, 1.0), size=n) / math.sqrt(n)
    b = np.asarray(A @ z).ravel()
    with np.errstate(all="ignore"):
        y, istop, _, _, _, _, cond_lsmr, _ = lsmr(A, b, atol=TOLERANCE, btol=TOLERANCE,
                                                  conlim=1e30, maxiter=MAX_ITERATIONS)
    defect = float(np.linalg.norm(y - z))
    capped = istop == 7
    sampled = defect / (2.0 * TOLERANCE) if not capped else 0.0
    value = max(float(cond_lsmr), sampled)
    return (value if math.isfinite(value) else math.inf), capped


def stationary_share(A, r: np.ndarray) -> tuple[float, bool]:
    """``||P r|| / ||r||`` by LSQR and whether the iteration cap was reached."""
    from scipy.sparse.linalg import lsqr  # here: a dense fit never loads scipy.sparse

    r_unit = np.asarray(r, dtype=float) / norm2(r)
    with np.errstate(all="ignore"):
        y, istop = lsqr(A, r_unit, atol=TOLERANCE, btol=TOLERANCE, conlim=1e30,
                        iter_lim=MAX_ITERATIONS)[:2]
    share = float(np.linalg.norm(np.asarray(A @ y).ravel()))
    return (share if math.isfinite(share) else math.inf), istop == 7
