"""Jacobians that are not dense arrays: ``scipy.sparse`` matrices and ``LinearOperator``\\ s,
used as such (never converted to a dense ``m x n`` array).

The driver loop, the scaling and the stopping tests need a few things of ``J`` besides
products with vectors: its column norms, its columns over the free variables, a column scaling,
``|J| |x|`` and whether it is finite. Each is here for the three kinds of Jacobian: a dense
array (the existing dense code, unchanged), a sparse matrix (exact, in O(nnz)), and a
``LinearOperator``, which offers only products:

* column norms are estimated from ``k = PROBES`` products ``J^T z`` with Rademacher vectors
  ``z`` (``E[(J^T z)_j^2] = ||J_j||^2``; Hutchinson 1990, "A stochastic estimator of the trace
  of the influence matrix"), seeded so that the same operator gives the same estimate: each
  within about ``sqrt(2 / k)`` = 35 % (relative, in the squared norm); they set scalings and
  the gradient's cosine, never a refusal by themselves;
* ``|J| |x|`` (the size of the model's terms, :func:`trustfit.core.stopping.model_size`) is
  estimated by ``(sum_j (||J_j|| x_j)^2)^(1/2)``, its value for orthogonal columns.
"""
from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp
    from scipy.sparse.linalg import LinearOperator

#: Random probes of a LinearOperator's column norms.
PROBES = 16


def _sp():
    """``scipy.sparse``, imported on first use: it adds about a third to ``import trustfit``,
    and a dense fit never needs it."""
    import scipy.sparse
    return scipy.sparse


def _operator_class():
    from scipy.sparse.linalg import LinearOperator
    return LinearOperator


#: What is never large: arrays, and the numbers the scaling also converts.
_DENSE = frozenset((np.ndarray, float, int, np.float64))


def is_large(J) -> bool:
    """True for a Jacobian kept as a sparse matrix or a LinearOperator. Without
    ``scipy.sparse`` imported there can be neither (nor is it imported to find out)."""
    if type(J) in _DENSE or "scipy.sparse" not in sys.modules:
        return False
    return _sp().issparse(J) or isinstance(J, _operator_class())


def kind_of(J) -> str:
    """The kind of a Jacobian in words: ``'LinearOperator'`` for any operator (the solver's
    scaled compositions included), else the class name (``'csr_matrix'``, ``'ndarray'``)."""
    return ("LinearOperator" if is_large(J) and isinstance(J, _operator_class())
            else type(J).__name__)


def _probe(J: LinearOperator) -> np.ndarray:
    m = J.shape[0]
    z = np.random.default_rng(m).choice((-1.0, 1.0), size=(m, PROBES))
    return np.asarray(J.rmatmat(z))


def large_column_norms(J) -> np.ndarray:
    """Column norms of a sparse matrix (exact, safe from under- and overflow: each column is
    divided by its largest entry first) or of a LinearOperator (estimated, module docstring)."""
    if isinstance(J, _operator_class()):
        with np.errstate(all="ignore"):
            return np.sqrt(np.mean(_probe(J) ** 2, axis=1))
    A = _csr(J)
    n = A.shape[1]
    a = np.abs(A.data)
    with np.errstate(all="ignore"):
        if a.size and np.all(a < 1e150) and np.min(a, where=a > 0, initial=1.0) > 1e-150:
            # squares neither overflow nor underflow: one pass
            return np.sqrt(np.bincount(A.indices, weights=a * a, minlength=n))
        top = np.zeros(n)
        np.maximum.at(top, A.indices, a)
        safe = np.where((top > 0.0) & np.isfinite(top), top, 1.0)
        sums = np.bincount(A.indices, weights=(a / safe[A.indices]) ** 2, minlength=n)
        return np.where(np.isfinite(top), safe * np.sqrt(sums), top)


def _csr(J) -> sp.csr_matrix:
    """``J`` as a float CSR matrix (itself when it is one), without duplicate entries."""
    if not (_sp().isspmatrix_csr(J) and J.dtype == float):
        J = _sp().csr_matrix(J, dtype=float)
    if not J.has_canonical_format:
        J.sum_duplicates()
    return J


def select_columns(J, mask: np.ndarray):
    """``J[:, mask]`` for each kind (an operator composed with the selection)."""
    if np.all(mask):
        return J
    if isinstance(J, np.ndarray):
        return J[:, mask]
    if _sp().issparse(J):
        return _sp().csr_matrix(_sp().csc_matrix(J)[:, np.flatnonzero(mask)])
    n = J.shape[1]

    def matvec(z):
        full = np.zeros(n)
        full[mask] = np.ravel(z)
        return J.matvec(full)

    return _operator_class()((J.shape[0], int(np.sum(mask))), matvec=matvec,
                             rmatvec=lambda y: J.rmatvec(np.ravel(y))[mask], dtype=float)


def scale_columns(J, d: np.ndarray):
    """``J diag(d)``: a sparse matrix stays sparse, an operator is composed."""
    if isinstance(J, np.ndarray):
        return J * d
    if _sp().issparse(J):
        J = _csr(J)
        return _sp().csr_matrix((J.data * d[J.indices], J.indices, J.indptr), shape=J.shape)
    return _operator_class()(J.shape, matvec=lambda z: J.matvec(d * np.ravel(z)),
                             rmatvec=lambda y: d * J.rmatvec(np.ravel(y)), dtype=float)


def scale_rows(J, w: np.ndarray):
    """``diag(w) J``: a sparse matrix stays sparse, an operator is composed (a robust loss's
    weights, :mod:`trustfit.core.loss`)."""
    if isinstance(J, np.ndarray):
        return w[:, None] * J
    if _sp().issparse(J):
        J = _csr(J)
        rows = np.repeat(np.arange(J.shape[0]), np.diff(J.indptr))
        return _sp().csr_matrix((J.data * w[rows], J.indices, J.indptr), shape=J.shape)
    return _operator_class()(J.shape, matvec=lambda z: w * J.matvec(np.ravel(z)),
                             rmatvec=lambda y: J.rmatvec(w * np.ravel(y)), dtype=float)


def times_power_of_two(J, exponent: int):
    """``J * 2^exponent``, exact for a sparse matrix (each entry scaled by a power of two); a
    LinearOperator is composed with the factor."""
    if _sp().issparse(J):
        J = _sp().csr_matrix(J, dtype=float, copy=True)
        J.data = np.ldexp(J.data, exponent)
        return J
    while exponent:
        part = max(-1000, min(1000, exponent))
        J = J * math.ldexp(1.0, part)
        exponent -= part
    return J


def abs_times(J, v: np.ndarray) -> np.ndarray:
    """``|J| v`` for ``v >= 0``; for a LinearOperator the estimate of the module docstring
    (a vector whose norm is the estimated one). A large dense ``J`` (more than ``2**16``
    entries, :data:`trustfit.core.linalg.LARGE`) column by column, without the m x n
    ``|J|``."""
    if isinstance(J, np.ndarray):
        if J.ndim == 2 and J.size > 1 << 16:
            total = np.zeros(J.shape[0])
            column = np.empty(J.shape[0])
            for j in np.flatnonzero(np.asarray(v) != 0.0):
                np.abs(J[:, j], out=column)
                column *= v[j]
                total += column
            return total
        return np.abs(J) @ v
    if _sp().issparse(J):
        return abs(_sp().csr_matrix(J)) @ v
    return large_column_norms(J) * v


def all_finite(J) -> bool:
    """Every entry finite; for a LinearOperator, its products with a vector of ones both ways
    (a non-finite entry shows in them unless cancelled exactly)."""
    if isinstance(J, np.ndarray):
        return bool(np.isfinite(J).all())
    if _sp().issparse(J):
        return bool(np.all(np.isfinite(_sp().csr_matrix(J).data)))
    m, n = J.shape
    with np.errstate(all="ignore"):
        return bool(np.all(np.isfinite(J.matvec(np.ones(n))))
                    and np.all(np.isfinite(J.rmatvec(np.ones(m)))))


def nonfinite_columns(J) -> np.ndarray:
    """Indices of the columns with a non-finite entry (for a LinearOperator they are not
    known without ``n`` products: all columns are named)."""
    if isinstance(J, np.ndarray):
        return np.flatnonzero(~np.all(np.isfinite(J), axis=0))
    if _sp().issparse(J):
        C = _sp().coo_matrix(J)
        return np.unique(C.col[~np.isfinite(C.data)])
    return np.arange(J.shape[1])


def product_operator(J):
    """``J`` for an iterative solver (LSMR, LSQR): a sparse matrix as a LinearOperator whose
    products go straight to the matrix and its transpose (a CSC view, no copy): about a third
    less overhead per iteration than SciPy's generic wrapper; anything else unchanged."""
    if not _sp().issparse(J):
        return J
    A = _csr(J)
    At = A.T
    return _operator_class()(A.shape, matvec=lambda v: A @ np.ravel(v),
                             rmatvec=lambda v: At @ np.ravel(v), dtype=float)
