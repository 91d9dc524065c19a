"""SciPy 1.17's conventions of least_squares and curve_fit, each checked against SciPy run in
the same test (robust losses, callback, workers, max_nfev, curve_fit's data conventions,
full_output, error wording). trustfit's own tests, not SciPy's."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.optimize as so
from hypothesis import given, settings, strategies as st

import trustfit
from trustfit import FitWarning, StopReason
from trustfit.core.loss import make_loss
from trustfit.core.scaling import Scaling
from trustfit.reference.problems import gross_outliers
from trustfit.reference import nist

LOSSES = ("linear", "soft_l1", "huber", "cauchy", "arctan")
TIGHT = dict(ftol=1e-15, xtol=1e-15, gtol=1e-15, max_nfev=20000)


T = np.linspace(0.0, 10.0, 60)
_rng = np.random.default_rng(3)
Y_LINE = gross_outliers(1.5 * T + 2.0 + 0.1 * _rng.normal(size=T.size), 1, 10.0)
Y_EXP = gross_outliers(2.5 * np.exp(-0.4 * T) + 0.3 + 0.02 * _rng.normal(size=T.size), 2, 1.0)


def line(p):
    return p[0] * T + p[1] - Y_LINE


def line_jac(p):
    return np.column_stack([T, np.ones_like(T)])


def decay(p):
    return p[0] * np.exp(-p[1] * T) + p[2] - Y_EXP


PROBLEMS = {"line": (line, [0.0, 0.0], 1.0), "exponential": (decay, [1.0, 1.0, 0.0], 0.1)}


def _robust_cost(f, loss, f_scale):
    """SciPy's cost 1/2 sum C^2 rho(f^2 / C^2), from SciPy's own formula, for comparison."""
    z = (f / f_scale) ** 2
    rho = {"linear": z, "soft_l1": 2 * (np.sqrt(1 + z) - 1),
           "huber": np.where(z <= 1, z, 2 * np.sqrt(z) - 1), "cauchy": np.log1p(z),
           "arctan": np.arctan(z)}[loss]
    return 0.5 * f_scale ** 2 * float(np.sum(rho))


# --- robust losses ---------------------------------------------------------------------------
@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("loss", LOSSES)
def test_each_loss_reaches_scipys_minimum(problem, loss):
    fun, x0, f_scale = PROBLEMS[problem]
    ref = so.least_squares(fun, x0, loss=loss, f_scale=f_scale, method="trf", **TIGHT)
    r = trustfit.least_squares(fun, x0, loss=loss, f_scale=f_scale)
    assert r.success
    assert r.cost == pytest.approx(ref.cost, rel=1e-8)
    # the reported cost is SciPy's 1/2 sum rho at the returned point
    assert r.cost == pytest.approx(_robust_cost(fun(r.x), loss, f_scale), rel=1e-12)
    assert np.max(np.abs(r.grad)) <= 1e-6 * max(1.0, np.max(np.abs(ref.grad)))
    np.testing.assert_allclose(r.x, ref.x, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("method", ["lm", "dogleg", "hybrid", "gn", "trf", "dogbox"])
@pytest.mark.parametrize("loss", ["huber", "cauchy"])
def test_every_method_takes_a_loss(method, loss):
    ref = so.least_squares(decay, [1.0, 1.0, 0.0], loss=loss, f_scale=0.1, **TIGHT)
    r = trustfit.least_squares(decay, [1.0, 1.0, 0.0], loss=loss, f_scale=0.1, method=method)
    assert r.success and r.cost == pytest.approx(ref.cost, rel=1e-8)


def test_callable_loss_is_scipys_signature():
    def cauchy(z):
        return np.vstack([np.log1p(z), 1 / (1 + z), -1 / (1 + z) ** 2])

    r = trustfit.least_squares(line, [0.0, 0.0], loss=cauchy, f_scale=0.5)
    ref = so.least_squares(line, [0.0, 0.0], loss=cauchy, f_scale=0.5, **TIGHT)
    assert r.cost == pytest.approx(ref.cost, rel=1e-8)
    with pytest.raises(ValueError, match=r"^The return value of `loss` callable has wrong "
                                         r"shape\. .*\(3, 60\)"):
        trustfit.least_squares(line, [0.0, 0.0], loss=lambda z: np.vstack([z, z]))


@settings(max_examples=15, deadline=None)
@given(exponent=st.integers(-60, 60), loss=st.sampled_from(LOSSES[1:]))
def test_robust_fit_is_invariant_to_the_scale_of_the_data(exponent, loss):
    """Data and f_scale times c: the same parameters (slope and intercept times c) and the
    cost times c^2; c a power of ten (not of two, so the arithmetic is not exact)."""
    c = 10.0 ** (exponent / 6)
    base = trustfit.least_squares(line, [0.0, 0.0], loss=loss, f_scale=1.0)

    def scaled(p):
        return p[0] * T + p[1] - c * Y_LINE

    r = trustfit.least_squares(scaled, [0.0, 0.0], loss=loss, f_scale=c)
    assert r.success
    np.testing.assert_allclose(r.x / c, base.x, rtol=1e-7)
    assert r.cost / c ** 2 == pytest.approx(base.cost, rel=1e-9)


@pytest.mark.parametrize("name", ["MGH09", "MGH10", "MGH17"])
def test_huber_above_every_residual_keeps_nist_accuracy(name):
    """Huber is least squares for |f| <= f_scale: with f_scale above every residual (along
    the path from the near start) the certified values are reached to the same LRE."""
    p = nist.load(name)
    start = p.starts[1]
    f_scale = 10.0 * max(np.max(np.abs(p.residuals(start))), 1.0)
    plain = trustfit.least_squares(p.residuals, start, jac=p.residual_jacobian)
    robust = trustfit.least_squares(p.residuals, start, jac=p.residual_jacobian,
                                    loss="huber", f_scale=f_scale)
    assert robust.success
    assert nist.score_lre(p, robust.x) >= min(nist.score_lre(p, plain.x), 9.0)


def test_curve_fit_with_a_loss_matches_scipy_popt_and_pcov():
    def f(x, a, k, c):
        return a * np.exp(-k * x) + c

    y = Y_EXP
    for loss in LOSSES[1:]:
        sp, sc = so.curve_fit(f, T, y, p0=[1, 1, 0], loss=loss, f_scale=0.1, method="trf",
                              jac=lambda x, a, k, c: np.column_stack(
                                  [np.exp(-k * x), -a * x * np.exp(-k * x), np.ones_like(x)]),
                              **TIGHT)
        popt, pcov = trustfit.curve_fit(f, T, y, p0=[1, 1, 0], loss=loss, f_scale=0.1)
        np.testing.assert_allclose(popt, sp, rtol=1e-7, atol=1e-9)
        # SciPy's robust covariance: (J_T^T J_T)^-1 sum(rho) / (m - n), Triggs' weights
        np.testing.assert_allclose(pcov, sc, rtol=2e-5)


# --- callback --------------------------------------------------------------------------------
def test_callback_gets_scipys_intermediate_result_and_stops_on_stop_iteration():
    seen = []

    def callback(*, intermediate_result):  # keyword-only: SciPy passes it by keyword
        seen.append(intermediate_result)
        if len(seen) == 3:
            raise StopIteration

    r = trustfit.least_squares(decay, [1.0, 1.0, 0.0], callback=callback, rescue=False)
    ref_seen = []

    def ref_callback(intermediate_result):
        ref_seen.append(intermediate_result)
        if len(ref_seen) == 3:
            raise StopIteration

    ref = so.least_squares(decay, [1.0, 1.0, 0.0], callback=ref_callback)
    assert r.status == ref.status == -2 and not r.success and not ref.success
    assert r.stop_reason is StopReason.CALLBACK and len(seen) == len(ref_seen) == 3
    assert set(ref_seen[-1]) <= set(seen[-1])  # x, fun, nit, nfev, cost (and trustfit's)
    last = seen[-1]
    assert np.array_equal(last.x, r.x) and last.cost == pytest.approx(r.cost, rel=1e-15)
    assert last.nfev <= r.nfev and np.array_equal(last.fun, r.fun)


def test_callback_with_x_is_called_once_per_accepted_step():
    xs = []
    r = trustfit.least_squares(decay, [1.0, 1.0, 0.0], callback=xs.append, method="lm",
                               rescue=False)
    moved = [np.array_equal(a, b) for a, b in zip(xs, xs[1:])]
    assert len(xs) == sum(h.accepted for h in r.history) and not any(moved)


# --- workers ---------------------------------------------------------------------------------
def test_workers_map_gives_the_same_jacobian_bit_for_bit():
    calls = []

    def counting_map(func, iterable):
        points = list(iterable)
        calls.append(len(points))
        return map(func, points)

    for jac in ("2-point", "3-point", "cs"):
        calls.clear()
        a = trustfit.least_squares(decay, [1.0, 1.0, 0.0], jac=jac, workers=counting_map)
        b = trustfit.least_squares(decay, [1.0, 1.0, 0.0], jac=jac)
        assert calls and all(c >= 3 for c in calls)
        assert np.array_equal(a.x, b.x) and np.array_equal(a.jac, b.jac)
        assert (a.nfev, a.nfev_fd) == (b.nfev, b.nfev_fd)


def _picklable_decay(p):
    return decay(p)


def test_workers_int_uses_a_process_pool_and_bad_counts_raise_like_scipy():
    a = trustfit.least_squares(_picklable_decay, [1.0, 1.0, 0.0], workers=2, rescue=False)
    b = trustfit.least_squares(_picklable_decay, [1.0, 1.0, 0.0], rescue=False)
    assert np.array_equal(a.x, b.x)
    with pytest.raises(RuntimeError, match="^Number of workers specified must be -1"):
        trustfit.least_squares(decay, [1.0, 1.0, 0.0], workers=0)


# --- max_nfev, x_scale, tr_solver ------------------------------------------------------------
def test_max_nfev_caps_residual_evaluations_not_finite_differences():
    r = trustfit.least_squares(decay, [1.0, 1.0, 0.0], max_nfev=5, rescue=False)
    ref = so.least_squares(decay, [1.0, 1.0, 0.0], max_nfev=5)
    assert r.nfev <= 5 and ref.nfev <= 5 and r.nfev_fd > 0
    assert r.status == ref.status == 0
    with pytest.raises(ValueError, match=r"^`max_nfev` must be None or positive integer\."):
        trustfit.least_squares(decay, [1.0, 1.0, 0.0], max_nfev=0)


def test_x_scale_jac_is_mores_rule():
    s = Scaling("jac", 3)
    J0 = np.array([[3.0, 0.0, 4.0], [4.0, 0.0, 0.0]])
    np.testing.assert_array_equal(s.update(J0), [5.0, 1.0, 4.0])  # zero column: 1
    np.testing.assert_array_equal(s.update(np.array([[1.0, 0.5, 8.0]])), [5.0, 1.0, 8.0])
    r = trustfit.least_squares(decay, [1.0, 1.0, 0.0], x_scale="jac", method="lm")
    ref = so.least_squares(decay, [1.0, 1.0, 0.0], x_scale="jac", method="trf", **TIGHT)
    assert r.cost == pytest.approx(ref.cost, rel=1e-10)
    with pytest.raises(ValueError, match=r"^Inconsistent shapes between `x_scale` and `x0`"):
        trustfit.least_squares(decay, [1.0, 1.0, 0.0], x_scale=[1.0, 2.0])


def test_tr_solver_exact_is_the_dense_solver():
    a = trustfit.least_squares(decay, [1.0, 1.0, 0.0], tr_solver="exact")
    b = trustfit.least_squares(decay, [1.0, 1.0, 0.0])
    assert np.array_equal(a.x, b.x)
    with pytest.raises(ValueError, match=r"^`tr_solver` must be None, 'exact' or 'lsmr'\."):
        trustfit.least_squares(decay, [1.0, 1.0, 0.0], tr_solver="cg")


# --- SciPy's error wording first -------------------------------------------------------------
@pytest.mark.parametrize("kw,start", [
    (dict(method="newton"), "`method` must be 'trf', 'dogbox' or 'lm'."),
    (dict(jac="4-point"), "`jac` must be '2-point', '3-point', 'cs' or callable."),
    (dict(loss="l1"), "`loss` must be one of"),
    (dict(verbose=3), "`verbose` must be in [0, 1, 2]."),
    (dict(bounds=(0.0, 0.5)), "Initial guess is outside of provided bounds"),
    (dict(bounds=([0, 0, 0], [1, 0, 1])),
     "Each lower bound must be strictly less than each upper bound."),
    (dict(bounds=(0, 1, 2)), "`bounds` must contain 2 elements."),
    (dict(x_scale="auto"), "`x_scale` must be 'jac' or array_like with positive numbers."),
    (dict(x0=np.ones((3, 1))), "`x0` must have at most 1 dimension."),
    (dict(x0=[1j, 1, 1]), "`x0` must be real."),
    (dict(fun=lambda p: np.full(4, np.nan)), "Residuals are not finite in the initial point."),
])
def test_errors_start_with_scipys_wording(kw, start):
    args = dict(fun=decay, x0=[0.5, 1.0, 0.0])
    args.update(kw)
    for impl in (so.least_squares, trustfit.least_squares):
        with pytest.raises(ValueError) as exc:
            impl(**args)
        if impl is so.least_squares:
            assert str(exc.value).startswith(start.rstrip(".")[:30])
        else:
            assert str(exc.value).startswith(start) and len(str(exc.value)) > len(start)


def test_args_and_kwargs_reach_fun_as_in_scipy():
    def fun(p, t, y, *, shift):
        return p[0] * t + p[1] + shift - y

    for impl in (so.least_squares, trustfit.least_squares):
        r = impl(fun, [0.0, 0.0], args=[T, Y_LINE], kwargs={"shift": 1.0})  # a list, as SciPy
        rtol = 1e-6 if impl is so.least_squares else 1e-10  # SciPy's default tolerances
        np.testing.assert_allclose(r.x[1], np.polyfit(T, Y_LINE, 1)[1] - 1.0, rtol=rtol)


# --- curve_fit -------------------------------------------------------------------------------
def _f(x, a, b, c):
    return a * np.exp(-b * x) + c


X = np.linspace(0, 4, 50)
Y = _f(X, 2.5, 1.3, 0.5) + 0.2 * np.random.default_rng(1).normal(size=X.size)


def test_p0_none_with_bounds_starts_where_scipy_does():
    """SciPy's own documented example: bounds (0, [3, 1, 0.5]) without p0."""
    sp, _ = so.curve_fit(_f, X, Y, bounds=(0, [3.0, 1.0, 0.5]))
    popt, _ = trustfit.curve_fit(_f, X, Y, bounds=(0, [3.0, 1.0, 0.5]))
    np.testing.assert_allclose(popt, sp, rtol=1e-6)
    r = trustfit.fit(_f, X, Y, bounds=([0, 2, -np.inf], [3, np.inf, 1]))
    np.testing.assert_array_equal(r.x0, [1.5, 3.0, 0.0])  # midpoint, lb + 1, ub - 1
    with pytest.raises(ValueError, match="^Unable to determine number of fit parameters"):
        trustfit.curve_fit(lambda x, *p: p[0] * x, X, Y)


@pytest.mark.parametrize("sigma", [0.3, np.full(50, 0.3), np.diag(np.full(50, 0.09))])
def test_sigma_scalar_1d_and_2d_as_scipy(sigma):
    sp, sc = so.curve_fit(_f, X, Y, p0=[1, 1, 1], sigma=sigma, absolute_sigma=True)
    popt, pcov = trustfit.curve_fit(_f, X, Y, p0=[1, 1, 1], sigma=sigma, absolute_sigma=True)
    np.testing.assert_allclose(popt, sp, rtol=1e-6)
    np.testing.assert_allclose(pcov, sc, rtol=1e-4)


def test_one_ydata_value_broadcasts():
    def level(x, c):
        return c * np.ones_like(x)

    sp, _ = so.curve_fit(level, X, 2.0, p0=[1.0])
    popt, _ = trustfit.curve_fit(level, X, 2.0, p0=[1.0])
    assert popt[0] == pytest.approx(2.0, rel=1e-12) and sp[0] == pytest.approx(2.0)


def test_check_finite_and_nan_policy_in_scipys_order():
    y = Y.copy()
    y[[3, 7]] = np.nan
    for impl in (so.curve_fit, trustfit.curve_fit):
        with pytest.raises(ValueError, match="^array must not contain infs or NaNs"):
            impl(_f, X, y, p0=[1, 1, 1])
        with pytest.raises(ValueError, match="^The input contains nan values"):
            impl(_f, X, y, p0=[1, 1, 1], nan_policy="raise")
    sigma = np.diag(np.linspace(0.1, 0.3, 50) ** 2)
    sp, sc = so.curve_fit(_f, X, y, p0=[1, 1, 1], nan_policy="omit", sigma=sigma)
    popt, pcov = trustfit.curve_fit(_f, X, y, p0=[1, 1, 1], nan_policy="omit", sigma=sigma)
    np.testing.assert_allclose(popt, sp, rtol=1e-6)
    np.testing.assert_allclose(pcov, sc, rtol=1e-4)


def test_full_output_has_leastsqs_keys_and_shapes():
    sp = so.curve_fit(_f, X, Y, p0=[1, 1, 1], full_output=True)
    out = trustfit.curve_fit(_f, X, Y, p0=[1, 1, 1], full_output=True)
    info = out[2]
    for key, value in sp[2].items():
        assert np.shape(info[key]) == np.shape(value), key
    assert info["ipvt"].dtype.kind == "i" and sorted(info["ipvt"]) == [0, 1, 2]
    # fjac, ipvt, qtf: J P = Q R; R^T qtf = (J P)^T fvec, R^T R = (J P)^T (J P)
    J = info["result"].jac[:, info["ipvt"]]
    R = np.triu(info["fjac"].T[:3])
    np.testing.assert_allclose(R.T @ R, J.T @ J, rtol=1e-12, atol=1e-12 * np.abs(J.T @ J).max())
    np.testing.assert_allclose(R.T @ info["qtf"], J.T @ info["fvec"], atol=1e-9)
    np.testing.assert_allclose(info["fvec"], _f(X, *out[0]) - Y, rtol=1e-12)
    assert out[4] in (1, 2, 3, 4) and isinstance(out[3], str)


def test_jac_cs_and_args_keyword():
    sp, _ = so.curve_fit(_f, X, Y, p0=[1, 1, 1], jac="cs", method="trf", **TIGHT)
    popt, _ = trustfit.curve_fit(_f, X, Y, p0=[1, 1, 1], jac="cs")
    np.testing.assert_allclose(popt, sp, rtol=1e-7)
    for impl in (so.curve_fit, trustfit.curve_fit):
        with pytest.raises(ValueError, match="^'args' is not a supported keyword argument"):
            impl(_f, X, Y, p0=[1, 1, 1], args=(1,))


def test_fit_warning_is_an_optimize_warning():
    assert issubclass(FitWarning, so.OptimizeWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", so.OptimizeWarning)  # the usual SciPy filter
        trustfit.curve_fit(lambda t, b0, b1: b0 * b1 * np.exp(-t), X, np.exp(-X), p0=[3, 0.5])


def test_make_loss_linear_is_plain_least_squares():
    assert make_loss("linear", 1.0) is None
    loss = make_loss("soft_l1", 2.0)
    f = np.array([0.0, 1e-9, 0.5, -30.0])
    r, w = loss.residuals_and_weights(f)
    assert 0.5 * r @ r == pytest.approx(_robust_cost(f, "soft_l1", 2.0), rel=1e-14)
    assert r[1] == pytest.approx(1e-9, rel=1e-12) and w[0] == 1.0 and r[3] < 0
