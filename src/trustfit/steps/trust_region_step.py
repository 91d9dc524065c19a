"""Moré's trust-region step: the exact minimiser of the Gauss-Newton model in the radius.

In the scaled variables ``z = D h`` the step solves

``min ||A z + r||  subject to  ||z|| <= Delta``,   ``A = J D^{-1}`` (free columns).

When the Gauss-Newton point lies inside the radius it is the answer; otherwise the solution
is the damped step ``z(lam) = -(A^T A + lam I)^{-1} A^T r`` with the ``lam > 0`` for which
``||z(lam)|| = Delta`` (Moré 1978, "The Levenberg-Marquardt algorithm: implementation and
theory", the method of MINPACK's ``lmder``/``lmpar``; Moré & Sorensen 1983; SciPy's ``trf``
with its exact solver takes the same step). With the SVD ``A = P diag(s) Q^T`` and
``beta = P^T r``: ``z(lam) = -Q diag(s / (s^2 + lam)) beta``, and ``lam`` is the root of
Hebden's secular equation ``1/||z(lam)|| - 1/Delta = 0``, found by safeguarded Newton
(Moré 1978 sec. 5; a relative tolerance of 1e-2 on ``||z||``, as MINPACK's ``lmpar`` and
SciPy's ``solve_lsq_trust_region``; the step is then scaled onto the boundary).

Why not Powell's dogleg (:mod:`trustfit.steps.dogleg`) here: the dogleg's path runs from the
Cauchy point straight to the Gauss-Newton point. Where one direction is nearly undetermined
(two peaks of a sum of Gaussians that drifted onto each other, MGH09's far start running to
its asymptote) the Gauss-Newton point is astronomically far along that direction, the
dogleg's boundary point is the Cauchy point plus a slice of it, and the method turns into
steepest descent: every step accepted, the radius tripling up to 1e30, the cost falling by a
few per cent an iteration (a sum of 60 Gaussians from 1% off: the cost still 2.07 after 60
evaluations, where this step reaches the minimum). The exact step gets all of the model's
reduction the radius allows, in the determined directions first.

The SVD of ``A`` costs no second ``m x n`` factorization: the iterate's column-equilibrated
one ``J C^{-1} = U diag(s_e) V^T`` (shared with the Gauss-Newton step and the certificate)
gives ``A = U (diag(s_e) V^T diag(C / D))``, and the SVD of that ``n x n`` factor,
``P' diag(s) Q^T``, gives ``P = U P'``: O(n^3) more, ``J^T J`` never formed. Every quantity
is a length in the scaled variables or a ratio of costs: the step is free of the units of
the data, and, with Moré's Jacobian scaling (``x_scale='jac'``), of the parameters.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..core.problem import ProblemLike
from .base import GaussNewtonModel, Iterate, Step
from .dogleg import RADIUS_FLOOR, Dogleg

if TYPE_CHECKING:
    from ..core.vocabulary import Outcome

#: relative tolerance on ``||z(lam)||`` (MINPACK ``lmpar``'s 0.1, SciPy's 0.01)
SECULAR_RTOL = 1e-2
SECULAR_MAX_ITER = 30


def secular_root(s: np.ndarray, beta: np.ndarray, radius: float) -> float:
    """The ``lam >= 0`` with ``||s beta / (s^2 + lam)|| = radius`` to ``SECULAR_RTOL``, by
    Newton's method on ``1/||z(lam)|| - 1/radius`` (convex and increasing: Newton from the
    left never overshoots) inside the bracket ``[0, ||s beta|| / radius]`` (Moré 1978)."""
    sb = s * beta
    upper = float(np.linalg.norm(sb)) / radius
    lower, lam = 0.0, 0.0
    for _ in range(SECULAR_MAX_ITER):
        if not lower <= lam <= upper or lam == 0.0 and not np.all(s > 0.0):
            lam = max(1e-3 * upper, math.sqrt(lower * upper))
        denom = s * s + lam
        w = sb / denom
        norm = float(np.linalg.norm(w))
        if not norm > 0.0 or not math.isfinite(norm):
            return upper
        if abs(norm - radius) <= SECULAR_RTOL * radius:
            return lam
        if norm < radius:
            upper = lam
        else:
            lower = lam
        # d/dlam ||w|| = -sum(w^2 / denom) / ||w||; Newton on 1/||w|| - 1/radius
        slope = float(np.sum(w * w / denom)) / norm
        if not slope > 0.0:
            return upper
        lam += (norm - radius) / radius * norm / slope
    return lam


def small_factors(U_r: np.ndarray, s_e: np.ndarray, Vt_e: np.ndarray,
                  c_over_D: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(beta, s, Q^T)`` of ``A = J D^{-1}`` from the equilibrated SVD (``U_r = U^T r``,
    ``s_e``, ``V^T``) and the column factors ``C / D``: the SVD of the ``n x n`` factor
    (module docstring), computed once per iterate. ``None`` where LAPACK fails."""
    M = (s_e[:, None] * Vt_e) * c_over_D[None, :]
    try:
        P, s, Qt = np.linalg.svd(M, full_matrices=False)
    except np.linalg.LinAlgError:
        return None
    return P.T @ U_r, s, Qt


def boundary_step(beta: np.ndarray, s: np.ndarray, Qt: np.ndarray,
                  radius: float) -> np.ndarray:
    """The boundary solution ``z`` of the trust-region problem for ``A = P diag(s) Q^T``,
    ``beta = P^T r`` (module docstring), scaled onto ``||z|| = radius``."""
    lam = secular_root(s, beta, radius)
    z = -(Qt.T @ (s * beta / (s * s + lam)))
    norm = float(np.linalg.norm(z))
    return z * (radius / norm) if norm > 0.0 and math.isfinite(norm) else z


def exact_step(U_r: np.ndarray, s_e: np.ndarray, Vt_e: np.ndarray, c_over_D: np.ndarray,
               radius: float) -> np.ndarray:
    """The boundary solution ``z`` from the equilibrated SVD and the column factors
    (:func:`small_factors`, :func:`boundary_step`); NaN where LAPACK fails."""
    factors = small_factors(U_r, s_e, Vt_e, c_over_D)
    if factors is None:
        return np.full(Vt_e.shape[1], np.nan)
    return boundary_step(*factors, radius)


#: the step "hit the boundary" when at least this share of the radius (SciPy ``trf``'s 0.95)
BOUNDARY = 0.95


class MoreTrustRegion(Dogleg):
    """Moré's trust-region Levenberg-Marquardt (module docstring): the Gauss-Newton step
    inside the radius, the exact boundary solution outside it.

    The radius starts at ``||D x0||`` (1 when that is 0), as the dogleg's, and is updated by
    Moré's rule (Moré 1978 sec. 4, MINPACK ``lmder``; Nocedal & Wright 2006, Alg. 4.1) on
    the gain ratio ``rho`` and the scaled length ``||z||`` of the step taken:

    * ``rho < 1/4``: ``Delta = min(Delta, ||z||) / 2``, shrunk from the step actually tried
      (a Gauss-Newton step well inside a large radius is not retried at the same length);
    * ``rho > 3/4`` and the step on the boundary (``||z|| >= 0.95 Delta``):
      ``Delta = max(Delta, 2 ||z||)``. A step inside the radius leaves it as it is: the
      radius grows only when it was what limited the step, so it never runs away on a
      sequence of interior steps.

    Measured on the 54 NIST StRD cases (analytic Jacobians, ``x_scale='jac'``): 54 certified
    at LRE >= 7 with 1710 residual evaluations; with the dogleg's update (MNT eq. 2.19) 2116;
    shrinking to a quarter (SciPy ``trf``) 3740, with MINPACK's interpolated factor in
    ``[1/10, 1/2]`` 3219 (Bennett5 from start 1: 975).
    Lengths in the scaled variables compared with lengths: free of the data's units."""

    name = "tr"

    def __init__(self) -> None:
        super().__init__()
        # the small SVD of the latest iterate, reused by the steps tried from it after a
        # rejection (only the radius changes)
        self._factors_of: Iterate | None = None
        self._factors: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def update(self, it: Iterate, step: Step, outcome: Outcome) -> None:
        z_norm = float(np.linalg.norm(it.D * outcome.step))
        if not outcome.rho >= 0.25:  # also NaN / -inf for a non-finite trial
            self._radius = max(0.5 * min(self._radius, z_norm), RADIUS_FLOOR)
        elif outcome.rho > 0.75 and z_norm >= BOUNDARY * self._radius:
            self._radius = max(self._radius, 2.0 * z_norm)

    def propose(self, it: Iterate, problem: ProblemLike) -> Step:
        z_gn = it.svd.gauss_newton()
        if float(np.linalg.norm(z_gn)) <= self._radius:
            z = z_gn
        else:
            if self._factors_of is not it:
                equilibrated = it.equilibrated
                _, s_e, Vt, c = equilibrated
                self._factors_of = it
                # U^T r as the factorization keeps it (a tall J's has no U: core.linalg)
                self._factors = small_factors(equilibrated.ur, s_e, Vt, c / it.D[it.free])
            z = (boundary_step(*self._factors, self._radius) if self._factors is not None
                 else np.full(it.x.size, np.nan))
            if not np.all(np.isfinite(z)):  # LAPACK failed on the small factor: the dogleg
                return super().propose(it, problem)
        return Step(it.unscale(z), "TR", GaussNewtonModel(it.g, it.J))
