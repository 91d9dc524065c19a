"""Implicit orthogonal distance regression: points ``(x_i, y_i)`` near a curve (or surface)
``g(x, y, p) = 0``, such as a circle or an ellipse.

The problem is ``min over p, delta of sum_i ||S_i^-1 delta_i||^2`` subject to
``g(z_i + delta_i, p) = 0``, ``z_i = (x_i, y_i)``, ``S_i = diag(sigma_x,i, sigma_y,i)``. The
corrections are eliminated exactly (variable projection, Golub & Pereyra 1973): for given
``p`` each point's foot point on the curve, in the metric of its errors, is found by the
iteration

``delta = S^2 G mu``,  ``mu = -g(z) / (G^T S^2 G)``,  ``G = grad_z g(z)``

(the linearised constraint, exact for a straight line: Sampson's distance), then Newton's
method on the Lagrange conditions ``S^-2 delta = mu G(z + delta)``, ``g(z + delta) = 0``, with
the Hessian of ``g`` (the linearised iteration alone converges only where the curvature times
the distance is small, and oscillates on a circle's far points). At the foot point the signed
weighted distance is ``r_i = -sign(mu_i) ||S^-1 delta_i|| = -mu_i N_i``,
``N_i = sqrt(G^T S^2 G)``, and by the envelope theorem its derivative in ``p`` is

``dr_i / dp = g_p(z_i + delta_i, p) / N_i``,

so the fit is nonlinear least squares in ``p`` alone with m residuals, solved by
:func:`trustfit.least_squares` (certificate, polish, rescue), at O(m n^2) per step. For an
explicit model ``g = y - f(x, p)`` these are the residuals and Jacobian of the reduced problem
of :mod:`.odr_linalg` at ``mu = 0``, so the covariance means what it does for explicit ODR.
Derivatives of ``g`` by central differences (``eps^(1/3)`` relative steps, ``eps^(1/4)``
for the Hessian, floored at the median size of each coordinate). A point whose foot point is not found (no convergence in
``MAX_PROJECTION`` iterations, or a non-finite ``g``) gets a ``nan`` residual: at a trial
point a rejected step; at the start the face raises, naming the points.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import cast

import numpy as np

from ..core import validate as check
from ..core.differentiation import DEFAULT_RELATIVE_STEP, finite_difference_jacobian

MAX_PROJECTION = 50
#: The foot point is converged when the last Newton change of every correction is below this
#: share of its standard deviation plus its size (a relative rule, free of units); the
#: distance, stationary along the curve, is then exact to about its square.
PROJECTION_TOL = 1e-9
STEP = DEFAULT_RELATIVE_STEP["3-point"]
HESSIAN_STEP = float(np.finfo(float).eps) ** 0.25


class ImplicitModel:
    """Residuals ``r(p)`` (signed weighted distances) and their Jacobian for ``g(x, y, *p)``.
    ``Z``: (k + 1, m) coordinates, x rows then y; ``S2``: their variances."""

    def __init__(self, g: Callable, Z: np.ndarray, S2: np.ndarray, one_d: bool):
        self.g, self.Z, self.S2, self.one_d = g, Z, S2, one_d
        self.m = Z.shape[1]
        size = np.median(np.abs(Z), axis=1)
        top = np.max(np.abs(Z), axis=1)
        self._size = np.where(size > 0, size, np.where(top > 0, top, 1.0))[:, None]
        self._foot: tuple[bytes, np.ndarray, np.ndarray] | None = None
        self.nfev_g = 0

    def call(self, z: np.ndarray, p: np.ndarray) -> np.ndarray:
        x = z[0] if self.one_d else z[:-1]
        self.nfev_g += 1
        with np.errstate(all="ignore"):
            out = np.asarray(check.returned_numbers("g", self.g(np.array(x, copy=True),
                                                                np.array(z[-1], copy=True),
                                                                *p)))
        if np.iscomplexobj(out) or out.size != self.m:
            raise ValueError(f"g must return {self.m} real values (one per point), got shape "
                             f"{out.shape} ({out.dtype}).")
        return out.astype(float, copy=False).ravel()

    def derivatives(self, z: np.ndarray, p: np.ndarray, hessian: bool):
        """``g``, ``grad_z g`` (k + 1, m) by central differences (steps ``eps^(1/3)``) and,
        with ``hessian``, ``grad_z^2 g`` (m, k + 1, k + 1) by second differences (steps
        ``eps^(1/4)``)."""
        K = z.shape[0]
        g0 = self.call(z, p)

        def shifted(steps: dict[int, np.ndarray]) -> np.ndarray:
            moved = z.copy()
            for j, h in steps.items():
                moved[j] = z[j] + h
            return self.call(moved, p)

        def step(rel: float) -> np.ndarray:
            h = rel * np.maximum(np.abs(z), self._size)
            return (z + h) - z

        h = step(STEP)
        G = np.empty_like(z)
        for j in range(K):
            G[j] = (shifted({j: h[j]}) - shifted({j: -h[j]})) / (2 * h[j])
        if not hessian:
            return g0, G, None
        h = step(HESSIAN_STEP)
        H = np.empty((self.m, K, K))
        for j in range(K):
            up, down = shifted({j: h[j]}), shifted({j: -h[j]})
            H[:, j, j] = (up - 2 * g0 + down) / (h[j] * h[j])
            for i in range(j):
                cross = (shifted({i: h[i], j: h[j]}) - shifted({i: h[i], j: -h[j]})
                         - shifted({i: -h[i], j: h[j]}) + shifted({i: -h[i], j: -h[j]}))
                H[:, i, j] = H[:, j, i] = cross / (4 * h[i] * h[j])
        return g0, G, H

    def project(self, p: np.ndarray):
        """Foot points: ``(delta, r, N, z)`` with ``nan`` residuals where not found (module
        docstring: the linearised projection once, then Newton's method on the Lagrange
        conditions ``S^-2 delta = nu G``, ``g = 0`` with the Hessian of ``g``)."""
        Z, S2 = self.Z, self.S2
        K = Z.shape[0]
        done = np.zeros(self.m, dtype=bool)
        with np.errstate(all="ignore"):
            g0, G, _ = self.derivatives(Z, p, hessian=False)
            nu = -g0 / np.sum(S2 * G * G, axis=0)
            delta = S2 * G * nu
            for _ in range(MAX_PROJECTION):
                g0, G, H = self.derivatives(Z + delta, p, hessian=True)
                M = np.zeros((self.m, K + 1, K + 1))
                M[:, :K, :K] = -nu[:, None, None] * H
                M[:, np.arange(K), np.arange(K)] += 1.0 / S2.T
                M[:, :K, K] = -G.T
                M[:, K, :K] = G.T
                rhs = np.concatenate([(delta / S2 - nu * G).T, g0[:, None]], axis=1)
                ok = np.all(np.isfinite(M), axis=(1, 2)) & np.all(np.isfinite(rhs), axis=1)
                M[~ok] = np.eye(K + 1)
                rhs[~ok] = 0.0
                try:
                    step = -np.linalg.solve(M, rhs[..., None])[..., 0]
                except np.linalg.LinAlgError:
                    break
                step[~ok] = np.nan
                change = np.max(np.abs(step[:, :K].T) / (np.sqrt(S2) + np.abs(delta)), axis=0)
                delta = np.where(done, delta, delta + step[:, :K].T)
                nu = np.where(done, nu, nu + step[:, K])
                done |= change <= PROJECTION_TOL
                if np.all(done | ~np.isfinite(change)):
                    break
            z = Z + delta
            _, G, _ = self.derivatives(z, p, hessian=False)
            N = np.sqrt(np.sum(S2 * G * G, axis=0))
            # the signed weighted distance: -sign(nu) ||S^-1 delta|| (= -nu N at the foot)
            r = -np.sign(nu) * np.sqrt(np.sum(delta * delta / S2, axis=0))
        r = np.where(done & np.isfinite(r), r, np.nan)
        return delta, r, N, z

    def residuals(self, p: np.ndarray) -> np.ndarray:
        delta, r, N, z = self.project(p)
        self._foot = (p.tobytes(), z, N)
        self.delta = delta
        return r

    def jacobian(self, p: np.ndarray) -> np.ndarray:
        """``g_p(foot point) / N`` (envelope theorem), ``g_p`` by central differences."""
        if self._foot is None or self._foot[0] != p.tobytes():
            self.residuals(p)
        _, z, N = cast("tuple[bytes, np.ndarray, np.ndarray]", self._foot)  # set just above
        with np.errstate(all="ignore"):
            g0 = self.call(z, p)
            G_p, _ = finite_difference_jacobian(lambda q: self.call(z, q), p, g0, "3-point",
                                                np.full(p.size, -np.inf),
                                                np.full(p.size, np.inf))
            return G_p / N[:, None]
