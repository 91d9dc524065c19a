"""The certificate and the covariance of a global fit, from the block triangles of
:mod:`.global_linalg`.

The certificate is :func:`trustfit.core.stopping.certify`'s, on the whole stacked problem,
with its constants (``EXACT_RESIDUAL``, ``ZERO_COLUMN``, ``CONDITION_LIMIT``,
``STATIONARY_LIMIT``):

* exact fit: ``||r|| <= EXACT_RESIDUAL min(|| |J| |theta| ||, ||J theta||)``: certified;
* degenerate: a column within ``ZERO_COLUMN`` times the Jacobian's error
  (:func:`trustfit.core.stopping.column_signal`'s rule; a local column against the rounding
  level of its own data set, the only residuals it touches, a shared one against the whole
  problem's), or a condition number of the column-scaled Jacobian above
  ``CONDITION_LIMIT``. Each data set's local columns are a subset of the columns, so the
  condition of its own ``B_k`` is a lower bound of the whole one: it is checked first, and
  names the data sets whose local parameters are not determined;
* stationary: the share ``||J h_GN|| / ||r||`` of the residual the Gauss-Newton step could
  still remove, at most ``max(STATIONARY_LIMIT, sqrt(tolerance))``.

Held variables (at a bound, the gradient pushing out) are left out, as in the core.

The covariance is ``(J^T J)^-1 = R_tot^-1 R_tot^-T`` (:mod:`.global_linalg`):
``cov(s) = (R_s^T R_s)^-1``, ``cov(l_k, s) = -W_k cov(s)``,
``cov(l_k, l_j) = delta_kj R^_k^-1 R^_k^-T + W_k cov(s) W_j^T`` with ``W_k = R^_k^-1 S^_k``;
pseudo-inverses in column-scaled variables where a block is singular (flagged).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, LinearOperator, eigsh

from ..core.result import StopReason
from ..core.stopping import (CONDITION_LIMIT, EPS, EXACT_RESIDUAL, STATIONARY_LIMIT,
                             ZERO_COLUMN)
from .global_linalg import DENSE_LIMIT, EIGEN_TOLERANCE, Elimination, Linearization


def _column_level(lin: Linearization) -> np.ndarray:
    """Per parameter, the size of the residuals' terms its column is compared with: a local
    column's own data set's ``|| |J_k| |x_k| || + ||r_k||``, a shared column the whole
    problem's."""
    level = np.empty(lin.n)
    level[:lin.ns] = lin.model_terms() + lin.residual_norm
    for b in lin.blocks:
        level[b.li] = (b.terms + b.rnorm)[:, None]
    return level


def zero_columns(lin: Linearization, theta: np.ndarray, theta0: np.ndarray,
                 noise: float) -> np.ndarray:
    """Mask of the columns without influence (:func:`trustfit.core.stopping.column_signal`'s
    rule: ``||J_j|| size_j <= ZERO_COLUMN noise T``)."""
    c = lin.column_norms()
    if noise > EPS:
        size = np.where(theta != 0.0, np.abs(theta), 1.0)
    else:
        size = np.where(theta0 != 0.0, np.maximum(np.abs(theta), np.abs(theta0)), np.inf)
    with np.errstate(all="ignore"):
        effect = np.where(c > 0.0, c * size, 0.0)
        signal = np.where(effect == 0.0, 0.0, effect / (noise * _column_level(lin)))
    return signal <= ZERO_COLUMN


def block_conditions(lin: Linearization, held: np.ndarray) -> list[np.ndarray]:
    """Per group, the condition number of each member's column-scaled local block ``B_k``
    (free columns)."""
    out = []
    for b in lin.blocks:
        nl = b.g.n_local
        if not nl:
            out.append(np.ones(b.R.shape[0]))
            continue
        Rl = np.where(held[b.li][:, None, :], 0.0, b.R[:, :nl, :nl])
        c = np.linalg.norm(Rl, axis=1)
        free = c > 0
        scaled = np.where(free[:, None, :], Rl / np.where(free, c, 1.0)[:, None, :], 0.0)
        scaled += np.where(held[b.li], 1.0, 0.0)[:, None, :] * np.eye(nl)  # held: unit
        s = np.linalg.svd(scaled, compute_uv=False)
        with np.errstate(all="ignore"):
            out.append(np.where(s[:, -1] > 0, s[:, 0] / s[:, -1], np.inf))
    return out


def _dense_triangle(lin: Linearization, elim: Elimination) -> np.ndarray:
    n, ns = lin.n, lin.ns
    T = np.zeros((n, n))
    row = 0
    for b, (Rh, Sh, _) in zip(lin.blocks, elim.local):
        G, nl = b.li.shape
        rows = row + np.arange(G * nl).reshape(G, nl)
        T[rows[:, :, None], b.li[:, None, :]] = Rh
        T[rows[:, :, None], np.arange(ns)[None, None, :]] = Sh
        row += G * nl
    T[row:row + ns, :ns] = elim.Rs
    return T


def condition(lin: Linearization, elim: Elimination, c: np.ndarray) -> float:
    """Condition number of ``R_tot diag(1/c)`` (the column-scaled Jacobian; module
    docstring of :mod:`.global_linalg`): dense SVD up to ``DENSE_LIMIT`` parameters, else
    Lanczos on ``C^T C`` and ``(C^T C)^-1``."""
    n, ns = lin.n, lin.ns
    if n <= DENSE_LIMIT:
        s = np.linalg.svd(_dense_triangle(lin, elim) / c, compute_uv=False)
        return float(s[0] / s[-1]) if s[-1] > 0 else math.inf
    parts = list(zip(lin.blocks, elim.local))

    def R_times(u):
        out = np.zeros(n)
        for b, (Rh, Sh, _) in parts:
            out[b.li] = np.einsum("gij,gj->gi", Rh, u[b.li]) + np.einsum("gij,j->gi", Sh,
                                                                         u[:ns])
        out[:ns] = elim.Rs @ u[:ns]
        return out

    def RT_times(w):
        out = np.zeros(n)
        out[:ns] = elim.Rs.T @ w[:ns]
        for b, (Rh, Sh, _) in parts:
            out[b.li] = np.einsum("gji,gj->gi", Rh, w[b.li])
            out[:ns] += np.einsum("gji,gj->i", Sh, w[b.li])
        return out

    def R_solve(v):  # R_tot z = v
        z = np.zeros(n)
        z[:ns] = scipy.linalg.solve_triangular(elim.Rs, v[:ns]) if ns else 0.0
        for b, (Rh, Sh, _) in parts:
            z[b.li] = np.linalg.solve(Rh, (v[b.li] - np.einsum("gij,j->gi", Sh, z[:ns])
                                           )[:, :, None])[:, :, 0]
        return z

    def RT_solve(y):  # R_tot^T z = y
        z = np.zeros(n)
        acc = y[:ns].copy()
        for b, (Rh, Sh, _) in parts:
            zk = np.linalg.solve(np.swapaxes(Rh, 1, 2), y[b.li][:, :, None])[:, :, 0]
            z[b.li] = zk
            acc -= np.einsum("gji,gj->i", Sh, zk)
        z[:ns] = scipy.linalg.solve_triangular(elim.Rs, acc, trans="T") if ns else 0.0
        return z

    def largest(matvec) -> float:
        op = LinearOperator((n, n), matvec=matvec, dtype=float)
        try:
            return float(eigsh(op, k=1, which="LA", v0=np.ones(n), tol=EIGEN_TOLERANCE,
                               return_eigenvectors=False)[0])
        except (ArpackNoConvergence, ArpackError):
            return math.inf

    with np.errstate(all="ignore"):
        if np.any(np.diag(elim.Rs) == 0) or any(np.any(np.diagonal(Rh, axis1=1, axis2=2) == 0)
                                                for Rh, _, _ in elim.local):
            return math.inf
        top = largest(lambda v: RT_times(R_times(v / c)) / c)
        inv = largest(lambda v: c * R_solve(RT_solve(c * v)))
    value = math.sqrt(top * inv)
    return value if math.isfinite(value) else math.inf


def certify(lin: Linearization, theta: np.ndarray, theta0: np.ndarray, tolerance: float,
            noise: float, held: np.ndarray) -> tuple[StopReason | None, float, tuple[int, ...]]:
    """``(None, share, ())`` when certified, else ``(STALLED | DEGENERATE, value,
    data sets)``: the data sets whose own local block is degenerate (module docstring)."""
    rn = lin.residual_norm
    if rn == 0.0:
        return None, 0.0, ()
    h_theta = np.where(held, 0.0, theta)
    Jx = math.sqrt(lin.linear_change(h_theta)[1])
    if rn <= EXACT_RESIDUAL * min(lin.model_terms(), Jx):
        return None, 0.0, ()
    zero = zero_columns(lin, theta, theta0, noise) & ~held
    if np.any(zero):
        return StopReason.DEGENERATE, math.inf, _members_of(lin, zero)
    worst: list[int] = []
    top = 1.0
    for b, kappa in zip(lin.blocks, block_conditions(lin, held)):
        bad = kappa > CONDITION_LIMIT
        worst += b.g.members[bad].tolist()
        top = max(top, float(np.max(kappa, initial=1.0)))
    if worst:
        return StopReason.DEGENERATE, top, tuple(sorted(worst))
    h, elim = lin.gauss_newton(noise, held)
    c = np.where(held, 1.0, lin.column_norms())
    whole = condition(lin, elim, np.where(c > 0, c, 1.0))
    if whole > CONDITION_LIMIT:
        return StopReason.DEGENERATE, whole, ()
    share = math.sqrt(max(lin.linear_change(h)[1], 0.0)) / rn
    if share > max(STATIONARY_LIMIT, math.sqrt(tolerance)):
        return StopReason.STALLED, share, ()
    return None, share, ()


def _members_of(lin: Linearization, mask: np.ndarray) -> tuple[int, ...]:
    out: list[int] = []
    for b in lin.blocks:
        out += b.g.members[np.any(mask[b.li], axis=1)].tolist()
    return tuple(sorted(out))


def _pinv_scaled(M: np.ndarray, rcond: float) -> tuple[np.ndarray, bool]:
    """Pseudo-inverse of (a stack of) triangles in column-scaled variables, and whether any
    was rank deficient at ``rcond``."""
    c = np.linalg.norm(M, axis=-2)
    c = np.where(c > 0, c, 1.0)
    scaled = M / c[..., None, :]
    s = np.linalg.svd(scaled, compute_uv=False)
    deficient = bool(np.any(s[..., -1] <= rcond * s[..., :1])) if s.size else False
    return np.linalg.pinv(scaled, rcond=rcond) / c[..., :, None], deficient


class Covariance:
    """``(J^T J)^-1`` of the whole problem in block form (module docstring), user units:
    ``shared`` ``(n_s, n_s)``, and per group ``local`` ``(G, n_l, n_l)``, ``W``
    ``(G, n_l, n_s)``; ``rank_deficient`` when a pseudo-inverse was needed."""

    def __init__(self, lin: Linearization, noise: float):
        rcond = max(noise, EPS * max(lin.problem.m_total, 1))
        with np.errstate(all="ignore"):
            elim = lin.eliminate(np.zeros(lin.n), np.zeros(lin.n, dtype=bool))
            up = np.ldexp(1.0, -2 * lin.e)  # J_user = 2^e J_solver
            ns = lin.ns
            if ns:
                Rinv, dshared = _pinv_scaled(elim.Rs, rcond)
            else:
                Rinv, dshared = np.zeros((0, 0)), False
            self.shared = Rinv @ Rinv.T * up
            self.blocks, self.local, self.W = lin.blocks, [], []
            deficient = dshared
            for Rh, Sh, _ in elim.local:
                Ri, d = _pinv_scaled(Rh, rcond)
                deficient = deficient or d
                self.W.append(Ri @ Sh)
                self.local.append((Ri @ np.swapaxes(Ri, 1, 2)) * up)
        self.rank_deficient = deficient
        self.n, self.ns = lin.n, ns

    def variances(self) -> np.ndarray:
        """The diagonal of the full covariance, ``theta`` order."""
        out = np.empty(self.n)
        out[:self.ns] = np.diag(self.shared)
        for b, L, W in zip(self.blocks, self.local, self.W):
            out[b.li] = (np.diagonal(L, axis1=1, axis2=2)
                         + np.einsum("gij,jk,gik->gi", W, self.shared, W))
        return out

    def full(self) -> np.ndarray:
        """The full ``(n, n)`` covariance matrix (dense)."""
        C = np.zeros((self.n, self.n))
        ns = self.ns
        C[:ns, :ns] = self.shared
        Ws = np.zeros((self.n, ns))  # W_k stacked in theta order (local rows)
        for b, W in zip(self.blocks, self.W):
            Ws[b.li] = W
        C[ns:, ns:] = Ws[ns:] @ self.shared @ Ws[ns:].T
        C[ns:, :ns] = -Ws[ns:] @ self.shared
        C[:ns, ns:] = C[ns:, :ns].T
        for b, L in zip(self.blocks, self.local):
            C[b.li[:, :, None], b.li[:, None, :]] += L
        return C
