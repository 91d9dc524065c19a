"""Sparse Jacobians by grouped finite differences (Curtis, Powell & Reid 1974, "On the
estimation of sparse Jacobian matrices", J. Inst. Math. Appl. 13, 117-120).

Two columns that have no row in common in the sparsity pattern can be perturbed together: one
evaluation of ``f(x + h_a e_a + h_b e_b)`` gives both columns, each read off on its own rows.
The columns are put into groups greedily in their natural order (for a banded Jacobian with
bandwidth ``w`` this gives ``w`` groups: a tridiagonal Jacobian costs 3 evaluations, not
``n``), and a Jacobian costs one (forward), two (central, complex step: one) or four
(fourth-order central) evaluations per group. The steps and their rules at the bounds are
those of :mod:`trustfit.core.differentiation` (relative steps ``h_j = s |x_j|``; the feasible
side near a bound; a one-sided second-order formula where a central one has no room), applied
per column, so a grouped Jacobian equals the dense one to rounding. The result is a
``scipy.sparse.csr_matrix`` with the pattern's structure; nothing of size ``m x n`` is formed.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from .differentiation import DEFAULT_RELATIVE_STEP, _steps


def sparsity_pattern(jac_sparsity, m: int, n: int) -> sp.csc_matrix:
    """``jac_sparsity`` (array-like or sparse, nonzero = may be nonzero) as a boolean CSC
    pattern, or a ``ValueError`` naming it (SciPy's wording first)."""
    try:
        pattern = (sp.csc_matrix(jac_sparsity) if sp.issparse(jac_sparsity)
                   else sp.csc_matrix(np.atleast_2d(np.asarray(jac_sparsity))))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`jac_sparsity` must be an array-like or sparse matrix of shape "
                         f"(m, n) = ({m}, {n}); could not read it: {exc}") from None
    if pattern.shape != (m, n):
        raise ValueError(f"`jac_sparsity` has wrong shape: expected (m, n) = ({m}, {n}), got "
                         f"{pattern.shape}.")
    pattern = (pattern != 0).astype(bool).tocsc()
    pattern.sort_indices()
    return pattern


def group_columns(pattern: sp.csc_matrix) -> np.ndarray:
    """Greedy Curtis-Powell-Reid grouping in the natural column order: ``groups[j]`` is the
    group of column ``j``; columns of one group share no row. SciPy's compiled greedy grouping
    is used when present (its order given as the identity: SciPy's default random order needs
    61 groups for a tridiagonal n = 1000, the natural order 3); otherwise a plain one."""
    n = pattern.shape[1]
    try:
        from scipy.optimize._numdiff import group_columns as scipy_groups
        return np.asarray(scipy_groups(pattern, order=np.arange(n)), dtype=np.intp)
    except (ImportError, TypeError, ValueError):  # a private helper: fall back to our own
        return _greedy_groups(pattern)


def _greedy_groups(pattern: sp.csc_matrix) -> np.ndarray:
    rows_of = pattern.tocsc()
    cols_of = pattern.tocsr()
    n = pattern.shape[1]
    groups = np.full(n, -1, dtype=np.intp)
    for j in range(n):
        rows = rows_of.indices[rows_of.indptr[j]:rows_of.indptr[j + 1]]
        taken = set()
        for i in rows:
            neighbours = cols_of.indices[cols_of.indptr[i]:cols_of.indptr[i + 1]]
            taken.update(groups[neighbours[groups[neighbours] >= 0]].tolist())
        g = 0
        while g in taken:
            g += 1
        groups[j] = g
    return groups


class GroupedDifferences:
    """The grouped finite-difference Jacobian of one sparsity pattern (grouped once)."""

    def __init__(self, pattern: sp.csc_matrix):
        self.pattern = pattern
        self.groups = group_columns(pattern)
        self.n_groups = int(self.groups.max(initial=-1)) + 1
        coo = pattern.tocoo()
        order = np.lexsort((coo.col, coo.row))  # CSR order of the nonzeros
        self.rows, self.cols = coo.row[order].astype(np.intp), coo.col[order].astype(np.intp)
        by_group = np.argsort(self.groups[self.cols], kind="stable")
        bounds = np.searchsorted(self.groups[self.cols][by_group], np.arange(self.n_groups + 1))
        self._entries = [by_group[bounds[g]:bounds[g + 1]] for g in range(self.n_groups)]
        self._members = [np.flatnonzero(self.groups == g) for g in range(self.n_groups)]

    def jacobian(self, fun: Callable[[np.ndarray], np.ndarray], x: np.ndarray, f0: np.ndarray,
                 method: str, lb: np.ndarray, ub: np.ndarray,
                 relative_step: np.ndarray | None = None) -> tuple[sp.csr_matrix, int]:
        """``(J, evaluations)``: the Jacobian at ``x`` (``f0 = fun(x)``) by ``method``
        (``'2-point'``, ``'3-point'``, ``'5-point'``, ``'cs'``) as a CSR matrix."""
        m, n = f0.size, x.size
        rel = DEFAULT_RELATIVE_STEP[method] if relative_step is None else relative_step
        rel = np.broadcast_to(np.asarray(rel, dtype=float), (n,))
        offsets, weights, w0, denom = _plan(x, rel, method, lb, ub)
        values = np.zeros(self.rows.size)
        evaluations = 0
        for g in range(self.n_groups):
            members, entries = self._members[g], self._entries[g]
            rows, cols = self.rows[entries], self.cols[entries]
            acc = w0[cols] * f0[rows]
            for k in range(offsets.shape[0]):
                if not np.any(weights[k, members]):
                    continue
                if method == "cs":
                    xs = x.astype(complex)
                    xs[members] += 1j * offsets[k, members]
                    fk = np.asarray(fun(xs))
                    if not np.iscomplexobj(fk):
                        raise ValueError(
                            "jac='cs' needs a fun that propagates complex numbers, but fun "
                            f"returned {fk.dtype} values for a complex x; use jac='2-point' "
                            "or '3-point' instead.")
                    fk = fk.imag.reshape(m)
                else:
                    xs = x.copy()
                    xs[members] = np.clip(x[members] + offsets[k, members], lb[members],
                                          ub[members])
                    fk = np.asarray(fun(xs), dtype=float).reshape(m)
                evaluations += 1
                acc = acc + weights[k, cols] * fk[rows]
            with np.errstate(all="ignore"):
                values[entries] = acc / denom[cols]
        J = sp.csr_matrix((values, (self.rows, self.cols)), shape=(m, n))
        return J, evaluations


def _plan(x: np.ndarray, rel: np.ndarray, method: str, lb: np.ndarray, ub: np.ndarray):
    """Per column: the offsets of up to four evaluations (``(K, n)``), their weights, the
    weight of ``f0`` and the divisor, so that ``J_j = (w0_j f0 + sum_k w_kj f_k) / d_j``. The
    rules are those of :func:`trustfit.core.differentiation.finite_difference_jacobian`."""
    n = x.size
    if method == "cs":
        h = rel * np.maximum(1.0, np.abs(x))
        return h[None, :], np.ones((1, n)), np.zeros(n), h
    h = _steps(x, rel)
    up, down = ub - x, x - lb
    if method == "2-point":
        sign = np.where((h <= up) | (down < up), 1.0, -1.0)
        step = np.clip(x + sign * h, lb, ub) - x
        return step[None, :], np.ones((1, n)), -np.ones(n), np.where(step != 0, step, 1.0)
    offsets = np.zeros((4, n))
    weights = np.zeros((4, n))
    w0 = np.zeros(n)
    denom = np.ones(n)
    if method == "5-point":
        five = (2 * h <= up) & (2 * h <= down)
        offsets[:, five] = np.array([-2.0, -1.0, 1.0, 2.0])[:, None] * h[five]
        weights[:, five] = np.array([1.0, -8.0, 8.0, -1.0])[:, None]
        denom[five] = 12.0 * h[five]
        h = np.where(five, h, _steps(x, np.full(n, DEFAULT_RELATIVE_STEP["3-point"])))
        rest = ~five
    else:
        rest = np.ones(n, dtype=bool)
    central = rest & (h <= up) & (h <= down)
    offsets[0, central], offsets[1, central] = h[central], -h[central]
    weights[0, central], weights[1, central] = 1.0, -1.0
    denom[central] = ((x + h) - (x - h))[central]  # the points' actual distance
    one_sided = rest & ~central
    side = np.where(up >= down, 1.0, -1.0)
    s = side * np.minimum(h, np.maximum(up, down) / 2.0)
    offsets[0, one_sided], offsets[1, one_sided] = s[one_sided], 2.0 * s[one_sided]
    weights[0, one_sided], weights[1, one_sided] = 4.0, -1.0
    w0[one_sided] = -3.0
    denom[one_sided] = np.where(s[one_sided] != 0, 2.0 * s[one_sided], np.inf)
    return offsets, weights, w0, denom
