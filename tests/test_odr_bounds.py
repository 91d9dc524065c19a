"""Bounds on the parameters of an orthogonal distance regression (issue 18): against SciPy's
least_squares on the explicitly stacked problem (parameters and corrections unknown, bounds on
the parameters only) at tight tolerance, and against ODRPACK (``odrpack``, which takes bounds)
where the bounds are not active."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import optimize

import trustfit
from test_odr import PROBLEMS, _odrpack, decay

pytest.importorskip("odrpack")


def _stacked(f, x, y, p0, sx, sy, lb, ub):
    """The full problem over (p, delta) with SciPy's trust-region reflective method, bounds on
    p only, tolerances at the limit of double precision."""
    X = np.atleast_2d(x)
    k, m = X.shape
    n = len(p0)

    def residuals(z):
        d = z[n:].reshape(k, m)
        xa = (X + d)[0] if np.ndim(x) == 1 else X + d
        return np.concatenate([(f(xa, *z[:n]) - y) / sy, (d / np.broadcast_to(sx, (k, m))).ravel()])

    z0 = np.concatenate([p0, np.zeros(k * m)])
    box = (np.concatenate([lb, np.full(k * m, -np.inf)]), np.concatenate([ub, np.full(k * m, np.inf)]))
    ref = optimize.least_squares(residuals, z0, bounds=box, method="trf", x_scale="jac",
                                 xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=20000)
    return ref.x[:n], ref.x[n:].reshape(k, m), ref.cost


# (problem index, lower bounds, upper bounds): two with active bounds, one on each side
ACTIVE = [
    (0, [0.0, 0.0, 0.6], [np.inf, 0.75, np.inf]),  # decay: k <= 0.75 and c >= 0.6 active
    (1, [0.0, -1.0, 0.0, 0.25], [np.inf, 0.25, np.inf, np.inf]),  # peak: mu <= 0.25, B >= 0.25
    (2, [0.0, 0.0, 0.8], [np.inf, 1.2, np.inf]),  # two variables: b <= 1.2, c >= 0.8
]


@pytest.mark.parametrize("index, lb, ub", ACTIVE)
def test_active_bounds_match_the_stacked_problem(index, lb, ub):
    _, f, x, y, p0, sx, sy = PROBLEMS[index]
    lb, ub = np.array(lb), np.array(ub)
    start = np.clip(np.asarray(p0, float), lb, ub)
    r = trustfit.odr(f, x, y, start, sigma=sy, sigma_x=sx, bounds=(lb, ub))
    assert r.success, r.message
    p_ref, d_ref, cost_ref = _stacked(f, x, y, start, sx, sy, lb, ub)
    on_bound = np.isclose(p_ref, lb, rtol=0, atol=1e-12) | np.isclose(p_ref, ub, rtol=0,
                                                                      atol=1e-12)
    assert on_bound.sum() >= 1  # the bounds matter
    np.testing.assert_allclose(r.x, p_ref, rtol=1e-7, atol=1e-12)
    np.testing.assert_array_equal(r.active_mask != 0, on_bound)
    np.testing.assert_allclose(np.atleast_2d(r.delta), d_ref, rtol=1e-6,
                               atol=1e-7 * np.max(np.abs(d_ref)))
    np.testing.assert_allclose(r.cost, cost_ref, rtol=1e-10)
    np.testing.assert_allclose(r.x_adjusted, np.asarray(x) + r.delta, rtol=1e-15)
    # residual_y is the explicit model's at the adjusted x
    xa = r.x_adjusted
    np.testing.assert_allclose(r.residual_y, (f(xa, *r.x) - y) / sy, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("index", range(3))
def test_inactive_bounds_give_the_unbounded_fit_and_odrpack(index):
    _, f, x, y, p0, sx, sy = PROBLEMS[index]
    n = len(p0)
    ref = _odrpack(f, x, y, p0, sx, sy)
    wide = (np.full(n, -50.0), np.full(n, 50.0))
    r = trustfit.odr(f, x, y, p0, sigma=sy, sigma_x=sx, bounds=wide)
    assert r.success and not r.active_mask.any()
    np.testing.assert_allclose(r.x, ref.beta, rtol=1e-6)
    np.testing.assert_allclose(r.stderr, ref.sd_beta, rtol=1e-6)
    plain = trustfit.odr(f, x, y, p0, sigma=sy, sigma_x=sx)
    np.testing.assert_allclose(r.x, plain.x, rtol=1e-8)
    np.testing.assert_allclose(r.delta, plain.delta, rtol=1e-6, atol=1e-9)


def test_curve_fit_and_fit_take_bounds_with_sigma_x():
    _, f, x, y, p0, sx, sy = PROBLEMS[0]
    lb, ub = np.array(ACTIVE[0][1]), np.array(ACTIVE[0][2])
    start = np.clip(np.asarray(p0, float), lb, ub)
    r = trustfit.odr(f, x, y, start, sigma=sy, sigma_x=sx, bounds=(lb, ub))
    popt, pcov = trustfit.curve_fit(f, x, y, start, sigma=sy, sigma_x=sx, bounds=(lb, ub))
    np.testing.assert_allclose(popt, r.x, rtol=1e-12)
    np.testing.assert_allclose(pcov, r.pcov, rtol=1e-12)
    res = trustfit.fit(f, x, y, start, sigma=sy, sigma_x=sx, bounds=(lb, ub))
    np.testing.assert_allclose(res.x_adjusted, r.x_adjusted, rtol=1e-12)


def test_bound_errors_are_named():
    _, f, x, y, p0, sx, sy = PROBLEMS[0]
    with pytest.raises(ValueError, match="bound"):
        trustfit.odr(f, x, y, [3, 1, 0.3], sigma=sy, sigma_x=sx, bounds=(0, 0.5))
    with pytest.raises(ValueError, match="jac and jac_x do not apply with bounds"):
        trustfit.odr(f, x, y, [3, 1, 0.3], sigma=sy, sigma_x=sx, bounds=(0, 10),
                     jac=lambda x, *p: np.ones((x.size, 3)))


@settings(max_examples=4, deadline=None)
@given(exponent=st.integers(-40, 40))
def test_units_of_y_do_not_change_the_bounded_fit(exponent):
    """y, sigma, the amplitude, the offset and their bounds in other units: the same fit."""
    c = 2.0 ** exponent * 1.3
    _, f, x, y, p0, sx, sy = PROBLEMS[0]
    lb, ub = np.array(ACTIVE[0][1]), np.array(ACTIVE[0][2])
    start = np.clip(np.asarray(p0, float), lb, ub)
    unit = np.array([c, 1.0, c])
    base = trustfit.odr(decay, x, y, start, sigma=sy, sigma_x=sx, bounds=(lb, ub))
    scaled = trustfit.odr(decay, x, y * c, start * unit, sigma=sy * c, sigma_x=sx,
                          bounds=(lb * unit, ub * unit))
    assert base.success and scaled.success
    np.testing.assert_array_equal(scaled.active_mask, base.active_mask)
    np.testing.assert_allclose(scaled.x / unit, base.x, rtol=1e-9)
    np.testing.assert_allclose(scaled.stderr / unit, base.stderr, rtol=1e-7)
    np.testing.assert_allclose(scaled.delta, base.delta, rtol=1e-7, atol=1e-12)
