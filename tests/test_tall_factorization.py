"""The tall factorization of :mod:`trustfit.core.linalg` (issue 12 "Thin SVD everywhere",
issue 16 "Many points"): a Jacobian with more than ``LARGE`` entries and ``m >= 2 n`` is
factorized by a blocked Householder QR of ``[J C^{-1}, r]`` and the SVD of the ``n x n``
triangle, without the ``m x n`` ``U``.

Checked against the SVD route (``tall`` switched off) on matrices of known singular values,
and against SciPy (``least_squares`` / ``curve_fit``, method 'trf', tight tolerances, started
at the true parameters) on fits with 1e5 points, for every method. Decisions taken on the
factorization (rank, certificate) must be the same either way and at every scale of the
data and of the parameters; memory must stay O(m n) with few copies of ``J``.
"""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import scipy.optimize
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import trustfit
from trustfit import StopReason
from trustfit.core import linalg, stopping


def _matrix(seed: int, m: int, n: int, log_cond: float, column_scales: np.ndarray):
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.normal(size=(m, n)))
    V, _ = np.linalg.qr(rng.normal(size=(n, n)))
    s = np.logspace(0.0, -log_cond, n)
    J = (U * s) @ V.T * column_scales
    r = rng.normal(size=m) + J @ rng.normal(size=n)
    return J, r


def _both(J, r, noise, D):
    """(tall form, SVD form) of the solver's outputs."""
    out = []
    for form in (linalg.tall, lambda m, n: False):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(linalg, "tall", form)
            out.append(_solve(J, r, noise, D))
    return out


def _solve(J, r, noise, D):
    solver = linalg.SVDSolver(lambda: J / D, r, noise, (J, linalg.column_norms(J), D),
                              J.shape)
    e = solver.equilibrated_unscaled
    factors = (e[0], e[1], e.ur)
    verdict = stopping.certify(J, r, 0.0, np.ones(J.shape[1]), np.ones(J.shape[1]),
                               factors=lambda: factors)
    return dict(form_is_tall=e[0] is None, s=e[1], gn=solver.gauss_newton(),
                lm=solver.damped(1e-2), lm_rhs=solver.damped(1e-2, r[::-1].copy()),
                rank=solver.rank, verdict=verdict)


def _rel(a, b):
    with np.errstate(over="ignore"):
        return linalg.norm2(a - b) / linalg.norm2(b)


@settings(max_examples=12, deadline=None, phases=(Phase.explicit, Phase.generate))
@given(seed=st.integers(0, 2**16), n=st.integers(1, 8), log_cond=st.floats(0.0, 6.0),
       decades=st.lists(st.integers(-100, 100), min_size=8, max_size=8),
       data_power=st.integers(-150, 150))
def test_tall_form_agrees_with_the_svd(seed, n, log_cond, decades, data_power):
    """Singular values, Gauss-Newton and damped steps to rounding (relative to the
    condition number), and the same certificate verdict, with columns in units 1e-100 to
    1e100 and the data scaled by 1e-150 to 1e150."""
    m = 2 * linalg.LARGE // n + 7
    scales = 10.0 ** np.array(decades[:n], dtype=float)
    J, r = _matrix(seed, m, n, log_cond, scales)
    J, r = J * 10.0**data_power, r * 10.0**data_power
    D = linalg.column_norms(J) * np.random.default_rng(seed).uniform(0.5, 2.0, n)
    tall, svd = _both(J, r, 1e-10, D)
    assert tall["form_is_tall"] and not svd["form_is_tall"]
    accuracy = 1e-13 * 10.0**log_cond
    assert _rel(tall["s"], svd["s"]) <= 1e-13
    assert _rel(tall["gn"], svd["gn"]) <= accuracy
    assert _rel(tall["lm"], svd["lm"]) <= 1e-11
    assert _rel(tall["lm_rhs"], svd["lm_rhs"]) <= 1e-9
    assert tall["rank"] == svd["rank"] == n
    assert tall["verdict"][0] == svd["verdict"][0]
    assert tall["verdict"][1] == pytest.approx(svd["verdict"][1], rel=1e-6)


@pytest.mark.parametrize("log_cond, reason", [(9.0, StopReason.DEGENERATE), (2.0, None)])
def test_certificate_condition_decision_is_the_same(log_cond, reason):
    """Condition number 1e9 (above CONDITION_LIMIT = 6.7e7) refused, 1e2 certified
    (stationary: r orthogonal to the range of J), in both forms."""
    m, n = 50_000, 4
    J, _ = _matrix(3, m, n, log_cond, 10.0 ** np.arange(n))
    r = np.random.default_rng(4).normal(size=m)
    r -= J @ np.linalg.lstsq(J, r, rcond=None)[0]  # stationary
    tall, svd = _both(J, r, stopping.EPS, np.ones(n))
    assert tall["verdict"][0] is svd["verdict"][0] is reason


def damped_sine(x, a, b, c, d, e):
    return a * np.exp(-b * x) + c * np.sin(d * x) + e


def damped_sine_jac(x, a, b, c, d, e):
    ex = np.exp(-b * x)
    return np.column_stack([ex, -a * x * ex, np.sin(d * x), c * x * np.cos(d * x),
                            np.ones_like(x)])


TRUE = np.array([3.0, 0.5, 1.0, 2.0, 0.5])
P0 = np.array([2.5, 0.4, 1.2, 2.02, 0.3])


@pytest.fixture(scope="module")
def sine_data():
    x = np.linspace(0.0, 10.0, 100_000)
    y = damped_sine(x, *TRUE) + np.random.default_rng(1).normal(0.0, 0.05, x.size)
    ref = scipy.optimize.curve_fit(damped_sine, x, y, p0=TRUE, method="trf", ftol=1e-15,
                                   xtol=1e-15, gtol=1e-15, jac=damped_sine_jac)
    return x, y, ref


@pytest.mark.parametrize("method", ["auto", "dogleg", "lm", "gn", "hybrid"])
@pytest.mark.parametrize("jac", [None, damped_sine_jac], ids=["2-point", "analytic"])
def test_every_method_matches_scipy_on_1e5_points(method, jac, sine_data):
    x, y, (popt, pcov) = sine_data
    result = trustfit.fit(damped_sine, x, y, p0=P0, method=method, jac=jac)
    assert result.success, (result.stop_reason, result.events)
    np.testing.assert_allclose(result.x, popt, rtol=1e-8)
    if method == "auto":  # the covariance from the final Jacobian (the default method's)
        _, c = trustfit.curve_fit(damped_sine, x, y, p0=P0, jac=jac)
        np.testing.assert_allclose(c, pcov, rtol=1e-5)


def test_geodesic_acceleration_on_1e5_points(sine_data):
    x, y, (popt, _) = sine_data
    r = trustfit.fit(damped_sine, x, y, p0=P0, method="lm", accel=True)
    assert r.success
    np.testing.assert_allclose(r.x, popt, rtol=1e-8)


def test_active_bound_on_1e5_points(sine_data):
    """A bound that holds the offset (the free-column path of the factorization), against
    SciPy's bounded trf from the bound."""
    x, y, _ = sine_data
    lb = np.array([-np.inf, -np.inf, -np.inf, -np.inf, 0.6])
    ub = np.full(5, np.inf)
    ref = scipy.optimize.least_squares(lambda p: damped_sine(x, *p) - y,
                                       np.r_[TRUE[:4], 0.6], bounds=(lb, ub), method="trf",
                                       ftol=1e-15, xtol=1e-15, gtol=1e-15)
    r = trustfit.fit(damped_sine, x, y, p0=np.r_[P0[:4], 0.7], bounds=(lb, ub))
    assert r.success and r.x[4] == 0.6
    np.testing.assert_allclose(r.x, ref.x, rtol=1e-8)


def test_degenerate_model_is_refused_on_1e5_points():
    """Two amplitudes of the same exponential: rank 2 of 3, DEGENERATE as for few points."""
    x = np.linspace(0.0, 10.0, 100_000)
    y = 3.0 * np.exp(-0.5 * x) + np.random.default_rng(2).normal(0.0, 0.05, x.size)
    r = trustfit.least_squares(lambda p: p[0] * np.exp(-p[1] * x) + p[2] * np.exp(-p[1] * x)
                               - y, [1.0, 1.0, 1.0], rescue=False)
    assert r.stop_reason is StopReason.DEGENERATE and not r.success


def test_curve_fit_memory_is_a_few_jacobians():
    """tracemalloc peak of ``curve_fit`` at m = 2e5, n = 5 with finite differences, the
    model's own temporaries included: at most 3.5 Jacobians (7.6 before the tall form; an
    m x m array would be 320 GB)."""
    def data(m):
        x = np.linspace(0.0, 10.0, m)
        return x, damped_sine(x, *TRUE) + np.random.default_rng(1).normal(0.0, 0.05, m)

    trustfit.curve_fit(damped_sine, *data(1000), p0=P0)  # first-call costs
    x, y = data(200_000)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        trustfit.curve_fit(damped_sine, x, y, p0=P0)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert peak <= 3.5 * x.size * 5 * 8


def test_recycled_jacobian_is_recomputed_bit_for_bit():
    """The loop writes the next finite differences into the accepted iterate's Jacobian
    (core.loop.recyclable_jacobian); the array is reused and computing again at the old
    point gives the old Jacobian exactly."""
    from trustfit.core.problem import Problem
    from trustfit.core.scaling import ResidualScale, ScaledProblem

    x = np.linspace(0.0, 10.0, 50_000)
    y = damped_sine(x, *TRUE)
    problem = Problem(lambda p: damped_sine(x, *p) - y, 5, "2-point", np.full(5, -np.inf),
                      np.full(5, np.inf))
    f0 = problem.residuals(P0)
    scaled = ScaledProblem(problem, ResidualScale(f0))
    f0 = scaled.residuals(P0)
    J = scaled.jacobian(P0, f0)
    before = J.copy()
    f1 = scaled.residuals(TRUE)
    J1 = scaled.jacobian(TRUE, f1, out=J)
    assert J1 is J and not np.array_equal(J1, before)
    assert scaled.jacobian(P0, f0, out=J) is J
    assert np.array_equal(J, before)


def test_non_finite_trial_jacobian_refuses_the_step_and_restores_the_old_one(sine_data):
    """Two evaluations of the first trial's differences (both sides of column 0) return nan:
    the step is refused, the iterate's recycled Jacobian is computed again, and the fit
    still ends at SciPy's answer."""
    x, y, (popt, _) = sine_data
    calls = [0]

    def model(t, *p):
        calls[0] += 1
        value = damped_sine(t, *p)
        return value * np.nan if calls[0] in (8, 9) else value

    r = trustfit.fit(model, x, y, p0=P0, rescue=False)
    assert any(h.note == "non-finite Jacobian at the trial point" for h in r.history)
    assert r.success
    np.testing.assert_allclose(r.x, popt, rtol=1e-8)
