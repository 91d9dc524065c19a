"""Variable projection in the batch kernel (fit_batch method='varpro', the default for
separable models): the split of the parameters, the same minima as Levenberg-Marquardt
on all parameters and as SciPy, the choice made by 'auto', and its errors."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")
sympy = pytest.importorskip("sympy")

from test_batch import EXP2, EXP2_TEXT, P0, exp2_data  # noqa: E402

from trustfit import StopReason  # noqa: E402
from trustfit.batch import fit_batch  # noqa: E402
from trustfit.batch._codegen import linear_parameters, varpro_layout  # noqa: E402
from trustfit.batch._model import as_batch_model  # noqa: E402

GAUSS = "a*exp(-(t - mu)**2/(2*s**2)) + c"
GAUSS_P0 = {"a": 2.0, "c": 0.2, "mu": 5.0, "s": 1.0}


def gauss_data(N, m, seed):
    """N noisy Gaussian peaks (sd 0.05) on a 0.3 offset, m points on [0, 10]."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 10, m)
    a, mu, s = rng.uniform(1, 3, N), rng.uniform(4, 6, N), rng.uniform(0.7, 1.5, N)
    Y = a[:, None] * np.exp(-((t - mu[:, None]) ** 2) / (2 * s[:, None] ** 2)) + 0.3
    Y += 0.05 * rng.standard_normal(Y.shape)
    return t, Y


@pytest.mark.parametrize(
    "expr, linear",
    [
        (EXP2_TEXT, ["x3", "x4"]),
        (GAUSS, ["a", "c"]),
        ("a*b*t + c", ["a", "c"]),  # a and b are each linear, not jointly: one is kept
        ("a*exp(-k*t) + a*t", ["a"]),
        ("exp(-k*t)", []),
        ("a*t + b", ["a", "b"]),
    ],
)
def test_linear_parameters_found_symbolically(expr, linear):
    bm = as_batch_model(expr)
    assert [bm.param_names[i] for i in linear_parameters(bm)] == linear
    layout = varpro_layout(bm)
    if len(linear) in (0, bm.n_params):
        assert layout is None  # nothing to project out, or nothing left to iterate on
    else:
        assert [bm.param_names[i] for i in layout[1]] == linear


def test_varpro_reaches_the_same_minimum_as_lm_with_the_same_stderr():
    t, Y, true = exp2_data(300, 64, seed=3)
    tight = dict(gtol=1e-13, xtol=1e-13, ftol=1e-13, maxiter=500, rescue=False)
    vp = fit_batch(EXP2, t, Y, P0, method="varpro", **tight)
    lm = fit_batch(EXP2, t, Y, true, method="lm", **tight)  # from the truth: the optimum
    assert vp.method == "varpro" and lm.method == "lm"
    same = np.abs(vp.cost - lm.cost) <= 1e-9 * lm.cost
    assert same.mean() >= 0.99
    np.testing.assert_allclose(vp.params[same], lm.params[same], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(vp.stderr[same], lm.stderr[same], rtol=1e-4)
    # and in fewer iterations than LM on all four parameters from the same start
    lm0 = fit_batch(EXP2, t, Y, P0, method="lm", rescue=False)
    vp0 = fit_batch(EXP2, t, Y, P0, rescue=False)
    assert vp0.method == "varpro"
    assert vp0.nit.mean() < 0.75 * lm0.nit.mean()


@pytest.mark.parametrize("m", [11, 32])
def test_interleaved_varpro_reaches_the_same_minimum_as_lm(m):
    """Up to ~38 points per curve the varpro kernel runs 16 curves interleaved per
    thread (lanes); its minima and standard errors are LM's from the truth."""
    t, Y, true = exp2_data(200, m, seed=21)
    tight = dict(gtol=1e-13, xtol=1e-13, ftol=1e-13, maxiter=500, rescue=False)
    vp = fit_batch(EXP2, t, Y, P0, method="varpro", **tight)
    lm = fit_batch(EXP2, t, Y, true, method="lm", **tight)
    same = np.abs(vp.cost - lm.cost) <= 1e-9 * lm.cost
    assert same.mean() >= 0.97
    np.testing.assert_allclose(vp.params[same], lm.params[same], rtol=1e-5, atol=1e-8)
    ok = same & np.isfinite(lm.stderr).all(1)
    np.testing.assert_allclose(vp.stderr[ok], lm.stderr[ok], rtol=1e-4)


def test_interleaved_results_do_not_depend_on_order_or_neighbours():
    """A curve's result is the same bit for bit whichever lane it runs in and whatever
    its neighbours do: rows permuted, bad rows (non-finite data, non-finite start) in
    between, per-curve starts."""
    t, Y, _ = exp2_data(150, 11, seed=22)
    Y[7, 3] = np.nan
    p0 = np.tile(np.array([-1.0, -0.1, 1.0, 1.0]), (150, 1))
    p0[::5, 0] = -2.0
    p0[40, 1] = np.inf
    a = fit_batch(EXP2, t, Y, p0, rescue=False)
    perm = np.random.default_rng(0).permutation(150)
    b = fit_batch(EXP2, t, Y[perm], p0[perm], rescue=False)
    assert a.method == b.method == "varpro"
    assert list(a.stop_reason[[7, 40]]) == [StopReason.INVALID_INPUT] * 2
    assert list(a.diagnosis[[7, 40]]) == ["invalid_data", "invalid_start"]
    for name in ("params", "cost", "nit", "stderr", "rcond", "gn_gain"):
        np.testing.assert_array_equal(getattr(b, name), getattr(a, name)[perm], err_msg=name)
    np.testing.assert_array_equal(np.asarray(b.stop_reason), np.asarray(a.stop_reason)[perm])
    assert np.isnan(a.params[7]).all() and np.isnan(a.stderr[[7, 40]]).all()
    assert a.success.sum() == 148


def test_varpro_gaussian_matches_scipy_curve_fit():
    from scipy.optimize import curve_fit

    N = 30
    t, Y = gauss_data(N, 40, seed=11)
    r = fit_batch(GAUSS, t, Y, GAUSS_P0, gtol=1e-12, xtol=1e-12, ftol=1e-12,
                  params=["a", "c", "mu", "s"],  # the columns in g's order (written: a, mu, s, c)
                  backend="compiled")
    assert r.method == "varpro" and r.success.all()

    def g(t, a, c, mu, s):
        return a * np.exp(-((t - mu) ** 2) / (2 * s**2)) + c

    for i in range(N):
        p, cov = curve_fit(g, t, Y[i], p0=[2, 0.2, 5, 1], method="lm", xtol=1e-12, ftol=1e-12)
        q = r.params[i].copy()
        p[3], q[3] = abs(p[3]), abs(q[3])
        np.testing.assert_allclose(q, p, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(r.stderr[i], np.sqrt(np.diag(cov)), rtol=1e-4)


@pytest.mark.parametrize("ftol", [1e-4, 1e-6])
def test_varpro_ftol_stop_is_within_ftol_of_the_minimum(ftol):
    """varpro stops once the Gauss-Newton step predicts a relative decrease <= ftol,
    without evaluating it: the cost is then within a few ftol of the minimum (the
    gain of every later step is at most the current one, times the linear rate), and
    not much closer than that rule allows (the stop is not a disguised tight fit)."""
    t, Y = gauss_data(200, 64, seed=12)
    r = fit_batch(GAUSS, t, Y, GAUSS_P0, ftol=ftol, gtol=0.0, xtol=0.0, rescue=False,
                  backend="compiled")
    tight = fit_batch(GAUSS, t, Y, GAUSS_P0, ftol=1e-15, gtol=0.0, xtol=0.0, maxiter=1000,
                      backend="compiled",
                      rescue=False)
    assert r.method == "varpro"
    assert (r.stop_reason == StopReason.COST).all()
    excess = (r.cost - tight.cost) / tight.cost
    assert excess.min() >= -1e-14
    assert excess.max() <= 3 * ftol
    assert np.median(excess) > 1e-4 * ftol  # one step short, not converged further
    # every stop is one the rule allows: the Gauss-Newton gain from there is <= ftol
    assert np.all(r.gn_gain <= ftol * (1 + 1e-6))


def test_varpro_ignores_the_linear_starts():
    t, Y, _ = exp2_data(40, 32, seed=5)
    a = fit_batch(EXP2, t, Y, P0, rescue=False, backend="compiled")
    b = fit_batch(EXP2, t, Y, [-1.0, -0.2, 123.0, -7.0], rescue=False, backend="compiled")
    np.testing.assert_array_equal(a.params, b.params)


def test_symmetric_start_is_left_and_the_rest_rescued():
    """From x1 == x2 exactly the two basis functions coincide: G is singular (the ridge
    gives c1 = c2) and the reduced Jacobian's columns are equal.  Rounding splits the
    rates within a few iterations, so variable projection leaves the fixed set on its
    own on most curves.  A curve that stays there (merged rates, amplitudes cancelling:
    cost 0.302 against 0.0102 at the optimum) is not a success: the certificate finds it
    degenerate, and the rescue, which refits such curves from starts that split the
    pair, brings it to the optimum.  (Before the certificate it was reported as a
    success, and whether rounding let it leave depended on the BLAS kernel.)"""
    t, Y, true = exp2_data(30, 64, seed=7)
    ref = fit_batch(EXP2, t, Y, true, rescue=False, gtol=1e-14, xtol=1e-14, ftol=1e-14,
                    method="lm")
    sym = np.array([-0.4, -0.4, 1.0, 1.0])
    r0 = fit_batch(EXP2, t, Y, sym, rescue=False)
    assert r0.method == "varpro"
    off = r0.cost > ref.cost * (1 + 1e-6)
    assert off.sum() <= 2
    assert r0.success[~off].all()
    assert (r0.stop_reason[off] == StopReason.DEGENERATE).all()
    assert (r0.condition[off] > 1e10).all()
    r1 = fit_batch(EXP2, t, Y, sym)
    assert r1.rescued[off].all() and r1.success.all()
    assert (r1.cost <= ref.cost * (1 + 1e-6)).all()


def test_bounds_on_nonlinear_parameters_are_kept():
    t, Y, _ = exp2_data(50, 32, seed=9)
    r = fit_batch(EXP2, t, Y, P0, bounds={"x1": (-1.2, -0.6), "x2": (-0.3, 0.0)})
    assert r.method == "varpro"
    assert (r.params[:, 0] >= -1.2).all() and (r.params[:, 1] >= -0.3).all()
    assert (r.params[:, 0] <= -0.6).all() and (r.params[:, 1] <= 0.0).all()
    assert np.isclose(r.params[:, 0], -0.6).any() or np.isclose(r.params[:, 0], -1.2).any()
    lm = fit_batch(EXP2, t, Y, P0, bounds={"x1": (-1.2, -0.6), "x2": (-0.3, 0.0)},
                   method="lm", gtol=1e-12, xtol=1e-12, ftol=1e-12)
    assert (r.cost <= lm.cost * (1 + 1e-6)).mean() >= 0.95


def test_auto_falls_back_to_lm_and_explicit_varpro_says_why():
    t, Y, _ = exp2_data(10, 16, seed=1)
    assert fit_batch(EXP2, t, Y, P0).method == "varpro"
    assert fit_batch(EXP2, t, Y, P0, bounds={"x3": (0.0, 5.0)}).method == "lm"
    assert fit_batch(EXP2, t, Y, P0, backend="numpy").method == "lm"
    assert fit_batch("exp(k*t)", t, Y, [-0.5]).method == "lm"
    with pytest.raises(ValueError, match=r"method: 'varpro'.*cannot be bounded.*\['x3'\]"):
        fit_batch(EXP2, t, Y, P0, bounds={"x3": (0.0, 5.0)}, method="varpro")
    with pytest.raises(ValueError, match=r"method: 'varpro' needs the compiled backend"):
        fit_batch(EXP2, t, Y, P0, backend="numpy", method="varpro")
    with pytest.raises(ValueError, match=r"method: 'varpro' needs a model linear"):
        fit_batch("exp(k*t)", t, Y, [-0.5], method="varpro")
    with pytest.raises(ValueError, match=r"method: 'gn' is not supported"):
        fit_batch(EXP2, t, Y, P0, method="gn")
