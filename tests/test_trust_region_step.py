"""Moré's trust-region step (``steps/trust_region_step.py``), the first stage of ``'auto'``.

The step is checked against an independent solution of the same subproblem (the damped
step of a direct SVD of ``A``, its ``lam`` found by bisection to 1e-14), for invariance to
the scale of the data, and on the problem that made the dogleg run away: a sum of 60
Gaussians from 1% off (SciPy ``trf`` at tight tolerances from the true parameters is the
reference cost).
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings, strategies as st

import trustfit
from trustfit.steps.dogleg import dogleg_step
from trustfit.steps.trust_region_step import exact_step


def _problem(seed: int, m: int, n: int, decades: float):
    """``A = J D^{-1}`` with singular values over ``decades`` decades, given as the
    equilibrated SVD of ``J`` and the factors ``C / D`` (Moré's ``D >= C``)."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((m, n)))
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = U @ np.diag(np.logspace(0, -decades, n)) @ V.T
    c_over_D = rng.uniform(0.2, 1.0, n)
    J_eq = A / c_over_D
    c = np.linalg.norm(J_eq, axis=0)
    Ue, se, Vte = np.linalg.svd(J_eq / c, full_matrices=False)
    r = rng.standard_normal(m)
    return A, r, Ue, se, Vte, c * c_over_D


def _reference(A: np.ndarray, r: np.ndarray, radius: float) -> np.ndarray:
    """The boundary solution by bisection on ``lam`` (independent of the Newton iteration)."""
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    b = U.T @ r

    def z(lam):
        return -(Vt.T @ (s * b / (s * s + lam)))

    lo, hi = 0.0, float(np.linalg.norm(s * b)) / radius
    for _ in range(400):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if np.linalg.norm(z(mid)) > radius else (lo, mid)
        if hi - lo <= 1e-14 * hi:
            break
    return z(hi)


def _gain(A, r, z):
    Az = A @ z
    return float(-(r @ Az) - 0.5 * Az @ Az)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 8), decades=st.floats(0.0, 8.0),
       share=st.floats(1e-3, 0.9), power=st.integers(-120, 120))
def test_exact_step_is_the_boundary_optimum_at_every_data_scale(seed, n, decades, share,
                                                               power):
    A, r, Ue, se, Vte, c_over_D = _problem(seed, n + 5, n, decades)
    z_gn = np.linalg.lstsq(A, -r, rcond=None)[0]
    radius = share * float(np.linalg.norm(z_gn))
    z = exact_step(Ue.T @ r, se, Vte, c_over_D, radius)
    assert np.linalg.norm(z) == pytest.approx(radius, rel=1e-12)
    best = _reference(A, r, radius)
    # the secular equation is solved to 1e-2 on ||z||, then the step put on the boundary:
    # within a few per cent of the optimal reduction (which the dogleg's never exceeds)
    g = A.T @ r
    Ag = A @ g
    dogleg = dogleg_step(z_gn, g, float(Ag @ Ag), radius)
    assert _gain(A, r, z) >= 0.97 * _gain(A, r, best)
    assert _gain(A, r, best) >= _gain(A, r, dogleg) * (1 - 1e-9)
    # Data times 10^power: residuals, Jacobian, D and the radius scale alike (Moré's D is
    # the Jacobian's column norms); the scaled step scales by the same factor.
    k = 10.0 ** power
    z_k = exact_step(Ue.T @ (k * r), se, Vte, c_over_D, k * radius)
    np.testing.assert_allclose(z_k, k * z, rtol=1e-9, atol=0.0)


def _gaussians(n_peaks=60, m=2000, spread=0.01):
    t = np.linspace(0.0, 100.0, m)
    truth = np.empty(3 * n_peaks + 1)
    truth[0:-1:3], truth[1:-1:3], truth[2:-1:3], truth[-1] = (
        1.0, np.linspace(2.0, 98.0, n_peaks), 0.6, 0.05)

    def model(p):
        z = (t[:, None] - p[1:-1:3]) / p[2:-1:3]
        return np.exp(-0.5 * z * z) @ p[0:-1:3] + p[-1]

    def jac(p):
        a, s = p[0:-1:3], p[2:-1:3]
        z = (t[:, None] - p[1:-1:3]) / s
        g = np.exp(-0.5 * z * z)
        J = np.empty((m, p.size))
        J[:, 0:-1:3], J[:, 1:-1:3], J[:, 2:-1:3], J[:, -1] = g, a * g * z / s, a * g * z * z / s, 1
        return J

    rng = np.random.default_rng(2)
    y = model(truth) + 0.01 * rng.standard_normal(m)
    start = truth * (1.0 + spread * rng.uniform(-1, 1, truth.size))
    return (lambda p: model(p) - y), jac, truth, start


def test_sum_of_60_gaussians_from_1_percent_off_reaches_the_minimum():
    # The dogleg first stage ran away here (radius tripling to 1e30, the default call not
    # finished after 6 minutes); SciPy trf needs 32 evaluations from this start.
    fun, jac, truth, start = _gaussians()
    ref = scipy.optimize.least_squares(fun, truth, jac=jac, method="trf", ftol=1e-15,
                                       xtol=1e-15, gtol=1e-15)
    r = trustfit.least_squares(fun, start, jac=jac, rescue=False)
    assert r.success and r.method == "tr"
    assert r.cost == pytest.approx(ref.cost, rel=1e-10)
    assert r.nfev <= 60
