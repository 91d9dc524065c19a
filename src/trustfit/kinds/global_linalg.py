"""The linear algebra of a global fit: each data set's local parameters eliminated, by QR.

With ``J`` block sparse (:mod:`.global_problem`: ``A_k = dr_k/ds`` shared, ``B_k =
dr_k/dl_k`` local), the Levenberg-Marquardt step minimises

``sum_k ||r_k + A_k h_s + B_k h_k||^2 + mu (||D_s h_s||^2 + sum_k ||D_k h_k||^2)``.

For fixed ``h_s`` the data sets decouple; eliminating each ``h_k`` leaves a problem in
``h_s`` alone whose normal matrix is the Schur complement
``sum_k A_k^T A_k + mu D_s^2 - sum_k A_k^T B_k (B_k^T B_k + mu D_k^2)^-1 B_k^T A_k`` (the
reduced camera system of bundle adjustment: Triggs, McLauchlan, Hartley & Fitzgibbon,
"Bundle adjustment -- a modern synthesis", 2000, sec. 6.1). It is formed here in square-root
form, never as normal equations (which would square the condition number), as in
Demmel, Sommer, Cremers & Usenko, "Square root bundle adjustment for large-scale
reconstruction" (CVPR 2021), by orthogonal transformations only:

1. once per Jacobian, each data set's ``[B_k, A_k, r_k]`` (``m_k`` rows) is reduced to the
   ``q x q`` triangle ``R_k`` of its Householder QR (``q = n_l + n_s + 1``), batched over a
   group (numpy's stacked ``qr``): ``||r_k + J_k h||^2 = ||R_k [h; 1]||^2`` up to a constant.
   The m x n Jacobian is dropped; the column norms, ``J^T r``, ``||J h||`` and ``r . J h``
   are all read from ``R_k`` (Q is orthogonal);
2. per damped step, ``[R_k; sqrt(mu) D_k 0 0]`` (``q + n_l`` rows) is triangularized again:
   its leading ``n_l`` rows ``[R^_k, S^_k, t^_k]`` express ``h_k`` through ``h_s``, the next
   ``n_s`` rows ``[T_k, u_k]`` are data set ``k``'s contribution to the shared problem;
3. the ``[T_k, u_k]`` of every data set are stacked (``K n_s`` rows) with ``sqrt(mu) D_s`` and
   triangularized once more: an ``n_s x n_s`` problem for ``h_s``;
4. ``h_k = -R^_k^-1 (t^_k + S^_k h_s)``, batched.

The step is exactly the dense LM step of the full problem, in O(sum_k m_k q^2) per Jacobian
and O(K q^3) per damped step: linear in the number of data sets. Variables held at a bound
(an active set, as :mod:`trustfit.core.vocabulary`'s ``free_variables``) have their column
zeroed and a unit damping row, which makes them a decoupled unit column: their step is 0
and the others are solved as if the column were absent.

At ``mu = 0`` (the polish and the certificate) the same elimination with pseudo-inverses in
column-equilibrated variables gives the minimum-norm Gauss-Newton step, and the block
triangle ``R_tot = [[diag(R^_k), S^], [0, R_s]]`` (``J = Q R_tot``) gives the singular values
of the whole column-scaled Jacobian: dense for up to :data:`DENSE_LIMIT` parameters, else
the extreme eigenvalues of ``C^T C`` and ``(C^T C)^-1`` (``C = R_tot diag(1/||J_j||)``,
applied by block products and block back-substitution) by ARPACK's Lanczos
(``scipy.sparse.linalg.eigsh``, a fixed start vector, relative tolerance
:data:`EIGEN_TOLERANCE`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from ..core.linalg import SVDSolver
from ..core.stopping import EPS
from .global_problem import GlobalProblem, Group

#: A block whose column-scaled triangle has a diagonal ratio within this factor of the rank
#: cut-off is solved by the SVD (minimum norm), not by substitution.
PSEUDO_MARGIN = 1e3
#: Up to this many parameters the certificate's condition number is a dense SVD of R_tot.
DENSE_LIMIT = 1500
#: Relative tolerance of the Lanczos estimates of the extreme eigenvalues of ``C^T C`` and its
#: inverse: the estimate is compared with ``CONDITION_LIMIT``, so an error of 1e-6 can only
#: change a verdict on a condition number within 1e-6 of the limit (1e-10 took twice the
#: iterations on the 256 x 256 image).
EIGEN_TOLERANCE = 1e-6


def triangle(M: np.ndarray) -> np.ndarray:
    """``(G, q, q)``: the R of a batched Householder QR of ``M`` (``(G, rows, q)``), with
    zero rows below where ``rows < q``."""
    G, rows, q = M.shape
    if rows < q:
        M = np.concatenate([M, np.zeros((G, q - rows, q))], axis=1)
    if q == 0 or G == 0:
        return np.zeros((G, q, q))
    R = np.asarray(np.linalg.qr(M, mode="r"))
    return R[:, :q, :]


@dataclass
class Blocks:
    """One group's triangles: ``R`` ``(G, q, q)`` of ``[B, A, r]`` (solver units), the
    local positions in ``theta`` ``li`` ``(G, n_l)``, and per member the size of the
    linearised model's terms ``|| |J_k| |x_k| ||`` (``terms``) and ``||r_k||`` (``rnorm``)."""

    g: Group
    R: np.ndarray
    li: np.ndarray
    terms: np.ndarray
    rnorm: np.ndarray


@dataclass
class Elimination:
    """The result of steps 2-3 (module docstring): per group ``(R^, S^, t^)``, and the
    shared triangle ``Rs`` ``(n_s, n_s)`` with its right-hand side ``qs``."""

    local: list
    Rs: np.ndarray
    qs: np.ndarray


class Linearization:
    """Residuals and Jacobian of the whole problem at ``theta``, kept as the triangles of
    :class:`Blocks` (module docstring), in the solver's units (residuals times ``2^-e``)."""

    def __init__(self, problem: GlobalProblem, theta: np.ndarray, r: list[np.ndarray],
                 e: int, refined: bool = False):
        self.problem, self.theta, self.e = problem, theta, e
        ns = problem.n_shared
        self.ns, self.n = ns, problem.n
        self.blocks: list[Blocks] = []
        self.finite = True
        for g, rg in zip(problem.groups, r):
            with np.errstate(all="ignore"):
                columns = problem.jacobian(g, theta, refined)
                G, m = rg.shape
                nl = g.n_local
                p = nl + ns
                # (G, q, m): each column contiguous, and its transpose is the Fortran order
                # LAPACK factors (no reordering copy before the QR)
                M = np.zeros((G, p + 1, m))
                w = np.ldexp(g.w, -e)
                for dest, j in zip(np.concatenate([np.arange(nl), nl + g.shared_at]),
                                   np.concatenate([g.local, g.shared])):
                    np.multiply(columns[j], w, out=M[:, dest, :])
                del columns
                M[:, p, :] = rg
                if not np.all(np.isfinite(M)):
                    self.finite = False
                    return
                li = g.local_index()
                size = np.concatenate([np.abs(theta[li]), np.broadcast_to(
                    np.abs(theta[:ns]), (G, ns))], axis=1)
                T = np.einsum("gp,gpm->gm", size, np.abs(M[:, :p]))
                terms = np.sqrt(np.einsum("gm,gm->g", T, T))
                rnorm = np.linalg.norm(rg, axis=1)
                self.blocks.append(Blocks(g, triangle(np.swapaxes(M, 1, 2)), li, terms,
                                          rnorm))
        problem.count_jacobian(refined)
        self._norms: np.ndarray | None = None
        self._gradient: np.ndarray | None = None

    # --- quantities of the whole Jacobian, read from the triangles --------------------------
    def _scatter(self, local_values, shared_values) -> np.ndarray:
        out = np.zeros(self.n)
        out[:self.ns] = shared_values
        for b, v in zip(self.blocks, local_values):
            out[b.li] = v
        return out

    def column_norms(self) -> np.ndarray:
        """``||J_j||`` for every parameter (``theta`` order)."""
        if self._norms is None:
            ns, local, shared = self.ns, [], np.zeros(self.ns)
            for b in self.blocks:
                nl = b.g.n_local
                sq = np.sum(b.R * b.R, axis=1)  # (G, q): squared column norms
                local.append(np.sqrt(sq[:, :nl]))
                shared += np.sum(sq[:, nl:nl + ns], axis=0)
            self._norms = self._scatter(local, np.sqrt(shared))
        return self._norms

    def gradient(self) -> np.ndarray:
        """``J^T r``: per data set ``R_k^T (Q_k^T r_k)``."""
        if self._gradient is None:
            ns, local, shared = self.ns, [], np.zeros(self.ns)
            for b in self.blocks:
                nl, p = b.g.n_local, b.g.n_local + ns
                g = np.einsum("gip,gi->gp", b.R[:, :p, :p], b.R[:, :p, -1])
                local.append(g[:, :nl])
                shared += np.sum(g[:, nl:], axis=0)
            self._gradient = self._scatter(local, shared)
        return self._gradient

    @property
    def residual_norm(self) -> float:
        return float(math.sqrt(sum(float(b.rnorm @ b.rnorm) for b in self.blocks)))

    @property
    def cost(self) -> float:
        return 0.5 * self.residual_norm ** 2

    def gradient_cosine(self) -> float:
        """MINPACK's gradient measure over every column (:func:`trustfit.core.stopping.
        gradient_cosine`): the largest ``|J_j . r| / (||J_j|| ||r||)``."""
        rn = self.residual_norm
        if rn == 0.0 or not math.isfinite(rn):
            return 0.0 if rn == 0.0 else math.inf
        c = self.column_norms()
        with np.errstate(all="ignore"):
            cos = np.abs(self.gradient()) / np.where(c > 0, c, 1.0)
        return float(np.max(cos, initial=0.0)) / rn

    def model_terms(self) -> float:
        """``|| |J| |theta| ||``, the size of the linearised model's terms."""
        return float(math.sqrt(sum(float(b.terms @ b.terms) for b in self.blocks)))

    def _member_step(self, b: Blocks, h: np.ndarray) -> np.ndarray:
        return np.concatenate([h[b.li], np.broadcast_to(h[:self.ns], (b.li.shape[0], self.ns))],
                              axis=1)

    def linear_change(self, h: np.ndarray) -> tuple[float, float]:
        """``(r . J h, ||J h||^2)`` for a full step ``h``."""
        rJh = JhJh = 0.0
        for b in self.blocks:
            p = b.g.n_local + self.ns
            Rh = np.einsum("gij,gj->gi", b.R[:, :p, :p], self._member_step(b, h))
            rJh += float(np.sum(b.R[:, :p, -1] * Rh))
            JhJh += float(np.sum(Rh * Rh))
        return rJh, JhJh

    def predicted_reduction(self, h: np.ndarray) -> float:
        """``L(0) - L(h) = -r.Jh - 1/2 ||Jh||^2`` of the Gauss-Newton model."""
        rJh, JhJh = self.linear_change(h)
        return -rJh - 0.5 * JhJh

    # --- the elimination (module docstring, steps 2-4) --------------------------------------
    def eliminate(self, weights: np.ndarray, held: np.ndarray) -> Elimination:
        """Steps 2-3 with damping rows ``weights`` (``sqrt(mu) D``; 0 for none) on the free
        variables, and unit rows on the ``held`` ones (their columns zeroed)."""
        ns = self.ns
        local, stack = [], []
        for b in self.blocks:
            nl, q = b.g.n_local, b.R.shape[1]
            G = b.R.shape[0]
            R = b.R
            hl, hs = held[b.li], held[:ns]
            if np.any(hl) or np.any(hs):
                R = R.copy()
                R[:, :, :nl] = np.where(hl[:, None, :], 0.0, R[:, :, :nl])
                R[:, :, nl:nl + ns][:, :, hs] = 0.0
            if nl:
                aug = np.zeros((G, q + nl, q))
                aug[:, :q] = R
                idx = np.arange(nl)
                aug[:, q + idx, idx] = np.where(hl, 1.0, weights[b.li])
                R = triangle(aug)
            local.append((R[:, :nl, :nl], R[:, :nl, nl:nl + ns], R[:, :nl, -1]))
            stack.append(R[:, nl:nl + ns, nl:].reshape(G * ns, ns + 1))
        rows = np.concatenate(stack + [np.hstack([np.diag(np.where(held[:ns], 1.0,
                                                                     weights[:ns])),
                                                  np.zeros((ns, 1))])])
        Rs = triangle(rows[None])[0] if ns else np.zeros((1, 1))
        return Elimination(local, Rs[:ns, :ns], Rs[:ns, ns])

    def _back_substitute(self, elim: Elimination, hs: np.ndarray, exact: bool,
                         rcond: float) -> np.ndarray:
        h = np.zeros(self.n)
        h[:self.ns] = hs
        for b, (Rh, Sh, th) in zip(self.blocks, elim.local):
            if not b.g.n_local:
                continue
            rhs = th + np.einsum("gij,j->gi", Sh, hs)
            if exact:
                h[b.li] = -np.linalg.solve(Rh, rhs[:, :, None])[:, :, 0]
                continue
            # Minimum norm in column-equilibrated variables, by the SVD where a block is near
            # rank deficient: its triangle's diagonal (column-scaled) spans more than
            # 1/(PSEUDO_MARGIN rcond). Elsewhere the block is regular and the minimum-norm
            # solution is the solution: a triangular solve (the SVD of 65,536 blocks per
            # Gauss-Newton step cost as much as the step's QR).
            c = np.linalg.norm(Rh, axis=1)
            c = np.where(c > 0, c, 1.0)
            S = Rh / c[:, None, :]
            d = np.abs(np.diagonal(S, axis1=1, axis2=2))
            near = ~(np.min(d, axis=1) > PSEUDO_MARGIN * rcond * np.max(d, axis=1))
            z = np.empty_like(rhs)
            if np.any(~near):
                z[~near] = np.linalg.solve(S[~near], rhs[~near][:, :, None])[:, :, 0]
            if np.any(near):
                z[near] = np.einsum("gij,gj->gi", np.linalg.pinv(S[near], rcond=rcond),
                                    rhs[near])
            h[b.li] = -z / c
        return h

    def damped_step(self, mu: float, D: np.ndarray, held: np.ndarray) -> np.ndarray:
        """The Levenberg-Marquardt step of the full problem (``mu > 0``), held variables 0."""
        with np.errstate(all="ignore"):
            elim = self.eliminate(math.sqrt(mu) * D, held)
            hs = (scipy.linalg.solve_triangular(elim.Rs, -elim.qs, check_finite=False)
                  if self.ns else np.zeros(0))
            return self._back_substitute(elim, hs, True, 0.0)

    def gauss_newton(self, noise: float, held: np.ndarray | None = None
                     ) -> tuple[np.ndarray, Elimination]:
        """The minimum-norm Gauss-Newton step (``mu = 0``), rank decided in column-scaled
        variables with the cut-off ``max(noise, eps m)`` (:meth:`SVDSolver.gauss_newton`)."""
        held = np.zeros(self.n, dtype=bool) if held is None else held
        rcond = max(noise, EPS * max(self.problem.m_total, 1))
        with np.errstate(all="ignore"):
            elim = self.eliminate(np.zeros(self.n), held)
            hs = (SVDSolver(elim.Rs, elim.qs, rcond).gauss_newton() if self.ns
                  else np.zeros(0))
            return self._back_substitute(elim, hs, False, rcond), elim

    def gauss_newton_step(self, noise: float, held: np.ndarray) -> np.ndarray:
        """:meth:`gauss_newton`'s step alone (:class:`.structured_lm.StructuredLinearization`)."""
        return self.gauss_newton(noise, held)[0]
