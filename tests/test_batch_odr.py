"""fit_batch(..., sigma_x=...) (issue 18): each curve's orthogonal distance regression against
ODRPACK (``odrpack``) and against SciPy's least_squares on the stacked bounded problem, per-curve
x and sigma_x, two independent variables, invalid rows, and the routing off the compiled
backend."""
import numpy as np
import pytest

from trustfit import StopReason
from trustfit.batch import fit_batch
from test_odr import PROBLEMS, _odrpack
from test_odr_bounds import ACTIVE, _stacked

pytest.importorskip("odrpack")
DECAY = "A*exp(-k*x) + c"
START = {"A": 3.0, "k": 1.0, "c": 0.3}


def _curves(n, seed=0):
    _, f, x, _, _, sx, sy = PROBLEMS[0]
    rng = np.random.default_rng(seed)
    Y = f(x + sx * rng.standard_normal((n, x.size)), 4, 0.8, 0.5) \
        + sy * rng.standard_normal((n, x.size))
    return f, x, Y, sx, sy


def test_each_curve_matches_odrpack():
    f, x, Y, sx, sy = _curves(4)
    r = fit_batch(DECAY, x, Y, START, sigma=sy, sigma_x=sx, independent="x")
    assert r.success.all() and r.backend == "numpy"
    assert "no orthogonal distance regression" in r.backend_reason
    assert r.delta.shape == Y.shape and r.x_adjusted.shape == Y.shape
    for i in range(len(Y)):
        ref = _odrpack(f, x, Y[i], [3, 1, 0.3], sx, sy)
        np.testing.assert_allclose(r.params[i], ref.beta, rtol=1e-6)
        np.testing.assert_allclose(r.stderr[i], ref.sd_beta, rtol=1e-6)
        np.testing.assert_allclose(r.delta[i], ref.delta, rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(r.x_adjusted[i], x + r.delta[i], rtol=1e-15)
        # cost: half the full weighted sum of squares over y and x
        full = np.sum(((f(x + r.delta[i], *r.params[i]) - Y[i]) / sy) ** 2
                      + (r.delta[i] / sx) ** 2)
        np.testing.assert_allclose(2 * r.cost[i], full, rtol=1e-9)
    assert (r.share < 1e-4).all() and (r.condition < 1e8).all()


def test_callable_model_bounds_and_per_curve_sigma_x():
    f, x, Y, sx, sy = _curves(3, seed=1)
    lb, ub = np.array(ACTIVE[0][1]), np.array(ACTIVE[0][2])
    SX = np.vstack([sx, 1.5 * sx, 0.5 * sx])
    r = fit_batch(f, x, Y, [3.0, 0.7, 0.6], sigma=sy, sigma_x=SX, bounds=(lb, ub))
    assert r.success.all()
    for i in range(3):
        p_ref, d_ref, _ = _stacked(f, x, Y[i], np.array([3.0, 0.7, 0.6]), SX[i], sy, lb, ub)
        np.testing.assert_allclose(r.params[i], p_ref, rtol=1e-7, atol=1e-12)
        np.testing.assert_allclose(r.delta[i], d_ref[0], rtol=1e-6,
                                   atol=1e-7 * np.abs(d_ref).max())


def test_two_independent_variables():
    _, f, X, y, p0, sx, sy = PROBLEMS[2]
    Y = np.vstack([y, y])  # the same curve twice
    r = fit_batch("a*exp(-b*u) + c*log(v)", X, Y, [1.0, 1.0, 1.0], sigma=sy,
                  sigma_x=sx[:, 0], independent=("u", "v"))
    ref = _odrpack(f, X, y, p0, sx, sy)
    assert r.delta.shape == (2,) + X.shape
    for i in range(2):
        np.testing.assert_allclose(r.params[i], ref.beta, rtol=1e-6)
        np.testing.assert_allclose(r.stderr[i], ref.sd_beta, rtol=1e-6)


def test_invalid_rows_and_starts_are_isolated():
    f, x, Y, sx, sy = _curves(3, seed=2)
    Y[1, 5] = np.nan

    def g(x, A, k, c):
        return A * np.exp(-k * x) + c + np.log(k - 0.9)  # not finite for k <= 0.9

    P0 = np.array([[3.0, 1.0, 0.3], [3.0, 1.0, 0.3], [3.0, 0.5, 0.3]])
    r = fit_batch(g, x, Y, P0, sigma=sy, sigma_x=sx)
    assert r.stop_reason[1] is StopReason.INVALID_INPUT and r.diagnosis[1] == "invalid_data"
    assert r.diagnosis[2] == "invalid_start" and not r.success[2]
    assert np.isnan(r.params[1]).all() and np.isnan(r.delta[2]).all()
    assert np.isfinite(r.params[0]).all()


@pytest.mark.parametrize("kwargs, match", [
    (dict(sigma_x=-1.0), "sigma_x must be positive"),
    (dict(sigma_x=np.ones(7)), "sigma_x: shape"),
    (dict(sigma_x=0.1, noise="poisson"), "sigma_x and noise='poisson'"),
    (dict(sigma_x=0.1, method="varpro"), "varpro"),
])
def test_bad_arguments_are_named(kwargs, match):
    _, x, Y, _, sy = _curves(2)
    with pytest.raises(ValueError, match=match):
        fit_batch(DECAY, x, Y, START, independent="x", **kwargs)
