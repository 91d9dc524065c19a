"""Orthogonal distance regression (issue 18): trustfit.odr and curve_fit(..., sigma_x=...)
against the published exact solution of the Pearson/York data and against ODRPACK
(the ``odrpack`` package, an independent implementation) at tight tolerances."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import trustfit
from trustfit.kinds.odr_linalg import Linearization

odrpack = pytest.importorskip("odrpack")

# Pearson's data with York's weights (York 1966; exact solution from Reed 1989/1992).
PX = np.array([0, 0.9, 1.8, 2.6, 3.3, 4.4, 5.2, 6.1, 6.5, 7.4])
PY = np.array([5.9, 5.4, 4.4, 4.6, 3.5, 3.7, 2.8, 2.8, 2.4, 1.5])
WX = np.array([1000, 1000, 500, 800, 200, 80, 60, 20, 1.8, 1.0])
WY = np.array([1, 1.8, 4, 8, 20, 20, 70, 70, 100, 500.0])


def line(x, a, b):
    return a + b * x


def decay(x, A, k, c):
    return A * np.exp(-k * x) + c


def peak(x, A, mu, s, B):
    return A * np.exp(-(x - mu) ** 2 / (2 * s * s)) + B


def two_variables(X, a, b, c):
    return a * np.exp(-b * X[0]) + c * np.log(X[1])


def _problems():
    rng = np.random.default_rng(3)
    x = np.linspace(0, 5, 40)
    sx, sy = 0.05 + 0.02 * rng.random(40), 0.1 + 0.05 * rng.random(40)
    y = decay(x + sx * rng.standard_normal(40), 4, 0.8, 0.5) + sy * rng.standard_normal(40)
    yield "decay", decay, x, y, [3, 1, 0.3], sx, sy
    x = np.linspace(-3, 3, 60)
    sx, sy = np.full(60, 0.03), np.full(60, 0.05)
    y = peak(x + sx * rng.standard_normal(60), 2, 0.3, 0.7, 0.2) + sy * rng.standard_normal(60)
    yield "peak", peak, x, y, [1.5, 0, 1, 0], sx, sy
    X = np.vstack([np.linspace(0, 2, 50), rng.uniform(1, 3, 50)])
    sx = np.vstack([np.full(50, 0.02), np.full(50, 0.05)])
    sy = np.full(50, 0.05)
    y = two_variables(X + sx * rng.standard_normal(X.shape), 2, 1.3, 0.7) \
        + sy * rng.standard_normal(50)
    yield "two variables", two_variables, X, y, [1, 1, 1], sx, sy


PROBLEMS = list(_problems())


def _odrpack(f, x, y, p0, sx, sy):
    return odrpack.odr_fit(lambda X, b: f(X, *b), x, y, np.asarray(p0, float),
                           weight_x=1 / np.asarray(sx) ** 2, weight_y=1 / np.asarray(sy) ** 2,
                           diff_scheme="central", sstol=1e-15, partol=1e-15, maxit=1000)


def test_pearson_york_exact_solution():
    r = trustfit.odr(line, PX, PY, [6, -0.5], sigma=1 / np.sqrt(WY), sigma_x=1 / np.sqrt(WX))
    assert r.success
    assert round(r.x[0], 5) == 5.47991
    assert abs(r.x[1] - (-0.480533)) < 5e-7
    ref = _odrpack(line, PX, PY, [6, -0.5], 1 / np.sqrt(WX), 1 / np.sqrt(WY))
    np.testing.assert_allclose(r.x, ref.beta, rtol=1e-6)
    np.testing.assert_allclose(r.stderr, ref.sd_beta, rtol=1e-6)
    np.testing.assert_allclose(r.x_adjusted, PX + r.delta)
    np.testing.assert_allclose(r.delta, ref.delta, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name, f, x, y, p0, sx, sy", PROBLEMS, ids=[p[0] for p in PROBLEMS])
def test_nonlinear_problems_match_odrpack(name, f, x, y, p0, sx, sy):
    r = trustfit.odr(f, x, y, p0, sigma=sy, sigma_x=sx)
    ref = _odrpack(f, x, y, p0, sx, sy)
    assert r.success, r.message
    np.testing.assert_allclose(r.x, ref.beta, rtol=1e-6)
    np.testing.assert_allclose(r.stderr, ref.sd_beta, rtol=1e-6)
    np.testing.assert_allclose(r.pcov, ref.cov_beta * ref.res_var, rtol=1e-6)
    np.testing.assert_allclose(2 * r.cost, ref.sum_square, rtol=1e-9)
    np.testing.assert_allclose(r.delta, ref.delta, rtol=1e-5, atol=1e-9 * np.max(np.abs(x)))
    np.testing.assert_allclose(r.res_var, ref.res_var, rtol=1e-9)


def test_absolute_sigma_rule_and_curve_fit_dispatch():
    sx, sy = 1 / np.sqrt(WX), 1 / np.sqrt(WY)
    popt, pcov = trustfit.curve_fit(line, PX, PY, [6, -0.5], sigma=sy, sigma_x=sx)
    p_abs, pcov_abs = trustfit.curve_fit(line, PX, PY, [6, -0.5], sigma=sy, sigma_x=sx,
                                         absolute_sigma=True)
    r = trustfit.fit(line, PX, PY, [6, -0.5], sigma=sy, sigma_x=sx)
    np.testing.assert_array_equal(popt, r.x)
    np.testing.assert_allclose(pcov, pcov_abs * r.res_var, rtol=1e-12)
    ref = _odrpack(line, PX, PY, [6, -0.5], sx, sy)
    np.testing.assert_allclose(pcov_abs, ref.cov_beta, rtol=1e-6)  # unscaled, as ODRPACK's


def test_vanishing_sigma_x_gives_the_y_only_fit():
    """With errors in x far below their effect, ODR's estimate and covariance are those of the
    y-only fit, under both absolute_sigma rules: the covariance means the same thing."""
    rng = np.random.default_rng(5)
    x = np.linspace(0, 4, 30)
    sy = np.full(30, 0.1)
    y = decay(x, 3, 0.7, 0.4) + sy * rng.standard_normal(30)
    for absolute in (False, True):
        p_y, c_y = trustfit.curve_fit(decay, x, y, [2, 1, 0], sigma=sy, absolute_sigma=absolute,
                                      jac=lambda x, A, k, c: np.column_stack(
                                          [np.exp(-k * x), -A * x * np.exp(-k * x),
                                           np.ones_like(x)]))
        p_o, c_o = trustfit.curve_fit(decay, x, y, [2, 1, 0], sigma=sy, sigma_x=1e-9,
                                      absolute_sigma=absolute)
        np.testing.assert_allclose(p_o, p_y, rtol=1e-7)
        np.testing.assert_allclose(c_o, c_y, rtol=1e-6)


def test_structured_step_equals_the_dense_step():
    """The eliminated step is exactly the Levenberg-Marquardt step of the stacked problem
    solved densely: (J^T J + mu D^2) h = -J^T r, with J 2m x (n + m) (k = 2: 3m x (n + 2m))."""
    rng = np.random.default_rng(0)
    m, n, k = 7, 3, 2
    lin = Linearization(rng.standard_normal(m), rng.standard_normal((k, m)),
                        rng.standard_normal((m, n)), rng.standard_normal((k, m)),
                        rng.uniform(0.5, 2, (k, m)))
    J = np.zeros(((1 + k) * m, n + k * m))
    J[:m, :n] = lin.A
    for j in range(k):
        J[:m, n + j * m: n + (j + 1) * m] = np.diag(lin.a[j])
        J[m + j * m: m + (j + 1) * m, n + j * m: n + (j + 1) * m] = np.diag(lin.b[j])
    r = np.concatenate([lin.r1, lin.r2.ravel()])
    Dp, Dd = rng.uniform(0.5, 2, n), rng.uniform(0.5, 2, (k, m))
    D = np.concatenate([Dp, Dd.ravel()])
    for mu in (1e-3, 0.7, 30.0):
        h = np.linalg.solve(J.T @ J + mu * np.diag(D * D), -J.T @ r)
        hp, hd = lin.damped_step(mu, Dp, Dd)
        np.testing.assert_allclose(np.concatenate([hp, hd.ravel()]), h, rtol=1e-9,
                                   atol=1e-12)
        Jh = J @ h
        np.testing.assert_allclose(lin.predicted_reduction(hp, hd), -r @ Jh - 0.5 * Jh @ Jh,
                                   rtol=1e-9)
    h = np.linalg.lstsq(J, -r, rcond=None)[0]
    hp, hd = lin.gauss_newton_step(np.finfo(float).eps)
    np.testing.assert_allclose(np.concatenate([hp, hd.ravel()]), h, rtol=1e-9, atol=1e-12)


@settings(max_examples=8, deadline=None)
@given(sy_exp=st.integers(-60, 60), sx_exp=st.integers(-60, 60))
def test_scale_invariance(sy_exp, sx_exp):
    """y and sigma times s, x and sigma_x times t: the same decisions, a -> s a and
    b -> s b / t, to rounding."""
    s, t = 10.0 ** sy_exp, 10.0 ** sx_exp
    sx, sy = 1 / np.sqrt(WX), 1 / np.sqrt(WY)
    base = trustfit.odr(line, PX, PY, [6, -0.5], sigma=sy, sigma_x=sx)
    r = trustfit.odr(line, PX * t, PY * s, [6 * s, -0.5 * s / t], sigma=sy * s,
                     sigma_x=sx * t)
    assert r.success and base.success  # the decision; COST or ROUNDING is rounding noise
    np.testing.assert_allclose(r.x, base.x * [s, s / t], rtol=1e-9)
    np.testing.assert_allclose(r.stderr, base.stderr * [s, s / t], rtol=1e-7)
    np.testing.assert_allclose(r.delta, base.delta * t, rtol=1e-7,
                               atol=1e-9 * t * np.max(np.abs(base.delta)))


def test_several_variables_one_sigma_per_variable():
    _, f, X, y, p0, sx, sy = PROBLEMS[2]
    r = trustfit.odr(f, X, y, p0, sigma=sy, sigma_x=sx[:, 0])  # (k,): one per variable
    ref = _odrpack(f, X, y, p0, sx, sy)
    np.testing.assert_allclose(r.x, ref.beta, rtol=1e-6)
    assert r.delta.shape == X.shape and r.x_adjusted.shape == X.shape


def test_rank_deficient_gives_flagged_pseudo_inverse():
    def f(x, a, b, c):
        return a + (b + c) * x

    r = trustfit.odr(f, PX, PY, [6, -0.2, -0.3], sigma=1 / np.sqrt(WY),
                     sigma_x=1 / np.sqrt(WX), rescue=False)
    assert r.rank_deficient and not r.success
    assert np.all(np.isfinite(r.pcov)) and np.all(r.stderr > 0)
    # the determined combination b + c has the line's slope and its standard error
    line_fit = trustfit.odr(line, PX, PY, [6, -0.5], sigma=1 / np.sqrt(WY),
                            sigma_x=1 / np.sqrt(WX))
    np.testing.assert_allclose(r.x[1] + r.x[2], line_fit.x[1], rtol=1e-8)
    v = np.array([0, 1, 1.0])
    np.testing.assert_allclose(np.sqrt(v @ r.pcov @ v), line_fit.stderr[1], rtol=1e-6)
    with pytest.warns(trustfit.FitWarning, match="pseudo-inverse"):
        trustfit.curve_fit(f, PX, PY, [6, -0.2, -0.3], sigma=1 / np.sqrt(WY),
                           sigma_x=1 / np.sqrt(WX), rescue=False)


def test_trial_outside_the_domain_is_a_rejected_step_and_bad_start_is_named():
    calls = {"bad": 0}

    def f(x, a, b):
        out = np.sqrt(a) * x + b  # nan for a < 0: the solver's own trial points may go there
        calls["bad"] += int(a < 0)
        return out

    x = np.linspace(0, 1, 20)
    y = 0.01 * x + 1 + 0.001 * np.sin(7 * x)
    r = trustfit.odr(f, x, y, [4.0, 0.0], sigma=0.001, sigma_x=0.001)
    assert r.success and r.x[0] >= 0
    assert calls["bad"] > 0  # the solver did try a point outside and was not stopped by it

    def g(x, a, b):
        return np.where(x > 0.5, np.nan, a * x + b)

    with pytest.raises(ValueError, match=r"not finite at p0 at the points \[10, 11"):
        trustfit.odr(g, x, y, [1, 1], sigma_x=0.1)


@pytest.mark.parametrize("kwargs, match", [
    ({"sigma_x": None}, "sigma_x is required"),
    ({"sigma_x": -1.0}, "sigma_x must be positive"),
    ({"sigma_x": np.ones(3)}, r"sigma_x must have shape"),
    ({"sigma_x": 0.1, "sigma": np.ones(3)}, r"sigma must be a scalar or have shape \(10,\)"),
    ({"sigma_x": 0.1, "implicit": True, "jac": lambda x, a, b: None},
     "jac and jac_x do not apply with implicit=True"),
    ({"sigma_x": [np.nan] * 10}, "sigma_x must be finite"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        trustfit.odr(line, PX, PY, [6, -0.5], **kwargs)


def test_curve_fit_refusals_and_budget():
    with pytest.raises(ValueError, match="jac and jac_x do not apply with bounds"):
        trustfit.curve_fit(line, PX, PY, [6, -0.5], sigma_x=0.1, bounds=(-10, 10),
                           jac=lambda x, a, b: np.column_stack([np.ones_like(x), x]))
    with pytest.raises(ValueError, match="noise must be 'gaussian' or 'poisson'"):
        trustfit.curve_fit(line, PX, PY, [6, -0.5], noise="laplace")
    r = trustfit.odr(peak, *PROBLEMS[1][2:4], [1.5, 0, 1, 0], sigma_x=0.03, max_nfev=2,
                     rescue=False)
    assert r.stop_reason is trustfit.StopReason.MAX_NFEV and not r.success
    with pytest.raises(RuntimeError, match="Optimal parameters not found"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trustfit.curve_fit(peak, *PROBLEMS[1][2:4], [1.5, 0, 1, 0], sigma_x=0.03,
                               max_nfev=2, rescue=False)


def circle(x, y, a, b, r):
    return (x - a) ** 2 + (y - b) ** 2 - r * r


def ellipse(x, y, a, b, u, v):
    return ((x - a) / u) ** 2 + ((y - b) / v) ** 2 - 1


def _implicit_data(seed, shape):
    rng = np.random.default_rng(seed)
    th = rng.uniform(0, 1.5 * np.pi, 30)
    sx, sy = np.full(30, 0.05), np.full(30, 0.08)
    x = 1 + shape[0] * np.cos(th) + sx * rng.standard_normal(30)
    y = -2 + shape[1] * np.sin(th) + sy * rng.standard_normal(30)
    return x, y, sx, sy


@pytest.mark.parametrize("g, shape, p0", [
    (circle, (3, 3), [0.5, -1.5, 2.5]),
    (ellipse, (3, 1.5), [0.8, -1.8, 2.5, 1.8]),
], ids=["circle", "ellipse"])
def test_implicit_models_match_odrpack(g, shape, p0):
    x, y, sx, sy = _implicit_data(2, shape)
    r = trustfit.odr(g, x, y, p0, sigma=sy, sigma_x=sx, implicit=True)
    assert r.success, r.message
    assert r.param_names == ("a", "b", "r") if g is circle else ("a", "b", "u", "v")
    ref = odrpack.odr_fit(lambda X, b: g(X[0], X[1], *b), np.vstack([x, y]), np.zeros(30),
                          np.asarray(p0, float), weight_x=np.vstack([1 / sx**2, 1 / sy**2]),
                          task="implicit-ODR", diff_scheme="central", sstol=1e-15,
                          partol=1e-15, maxit=1000)
    np.testing.assert_allclose(r.x, ref.beta, rtol=1e-6)
    np.testing.assert_allclose(r.stderr, ref.sd_beta, rtol=1e-6)
    np.testing.assert_allclose(r.delta, ref.delta[0], atol=1e-7)
    np.testing.assert_allclose(r.delta_y, ref.delta[1], atol=1e-7)
    np.testing.assert_allclose(g(r.x_adjusted, r.y_adjusted, *r.x), 0, atol=1e-9)


def test_implicit_line_is_the_explicit_fit():
    def g(x, y, a, b):
        return y - a - b * x

    sx, sy = 1 / np.sqrt(WX), 1 / np.sqrt(WY)
    r = trustfit.odr(g, PX, PY, [6, -0.5], sigma=sy, sigma_x=sx, implicit=True)
    e = trustfit.odr(line, PX, PY, [6, -0.5], sigma=sy, sigma_x=sx)
    np.testing.assert_allclose(r.x, e.x, rtol=1e-9)
    np.testing.assert_allclose(r.stderr, e.stderr, rtol=1e-7)
    np.testing.assert_allclose(r.delta, e.delta, rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match=r"no point of g\(x, y, p0\) = 0 was found near"):
        trustfit.odr(lambda x, y, a: np.where(x > 3, np.nan, y - a), PX, PY, [1.0],
                     sigma_x=0.1, implicit=True)


def test_result_fields_are_consistent():
    sx, sy = 1 / np.sqrt(WX), 1 / np.sqrt(WY)
    r = trustfit.odr(line, PX, PY, [6, -0.5], sigma=sy, sigma_x=sx)
    np.testing.assert_allclose(r.residual_y, (line(r.x_adjusted, *r.x) - PY) / sy, rtol=1e-12)
    np.testing.assert_allclose(r.residual_x, r.delta / sx, rtol=1e-12)
    full = np.sum(r.residual_y ** 2) + np.sum(r.residual_x ** 2)
    np.testing.assert_allclose(2 * r.cost, full, rtol=1e-12)
    # the reduced pair carries the same cost at the solution, and its gradient vanishes
    np.testing.assert_allclose(np.sum(r.fun ** 2), full, rtol=1e-9)
    assert "Findings: none." in r.report()
