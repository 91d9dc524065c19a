"""fit_batch(..., noise='poisson') (issue 18): each curve's maximum-likelihood estimate against a
direct minimisation of its negative log-likelihood (scipy.optimize.minimize, exact gradient and
Hessian, tight tolerance) and against the single fit, standard errors against the inverse Fisher
information computed from its definition, zero counts, the bias on the lifetime data, and the
compiled kernel against the numpy path."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import trustfit
from trustfit import StopReason
from trustfit.batch import fit_batch
from test_poisson import TRUE, T, _reference, decay, decay_jac

MODEL = "A*exp(-t/tau) + B"
START = {"A": 30.0, "tau": 2.0, "B": 1.0}
TIGHT = dict(gtol=1e-12, xtol=1e-12, ftol=None)


def _stack(n, seed=0, true=TRUE):
    return np.random.default_rng(seed).poisson(decay(T, *true), size=(n, T.size)).astype(float)


def test_each_curve_is_the_direct_nll_minimum_and_the_single_fit():
    Y = _stack(12, seed=5)
    assert np.sum(Y == 0) > 50  # many zeros
    r = fit_batch(MODEL, T, Y, START, noise="poisson", backend="numpy", **TIGHT)
    checked = 0
    for i in range(len(Y)):
        x_ref, se_ref = _reference(Y[i])
        single = trustfit.fit(decay, T, Y[i], [30, 2, 1], noise="poisson", jac=decay_jac)
        if not single.success:  # the maximum on the domain's boundary: refused by both
            assert not r.success[i]
            continue
        assert r.success[i], r.stop_reason[i]
        np.testing.assert_allclose(r.params[i], x_ref, rtol=1e-6)
        np.testing.assert_allclose(r.params[i], single.x, rtol=1e-6)
        np.testing.assert_allclose(r.stderr[i], se_ref, rtol=1e-6)
        np.testing.assert_allclose(r.stderr[i], single.stderr, rtol=1e-6)
        np.testing.assert_allclose(r.deviance[i], single.deviance, rtol=1e-9)
        np.testing.assert_allclose(r.pearson_chi2[i], single.pearson_chi2, rtol=1e-6)
        np.testing.assert_allclose(r.deviance_pvalue[i], single.deviance_pvalue, rtol=1e-6)
        checked += 1
    assert checked >= 10
    assert np.isfinite(r.params[r.success]).all() and np.isfinite(r.cost[r.success]).all()


def test_callable_model_with_jacobian_gives_the_same_estimates():
    Y = _stack(6, seed=9)

    def jac(t, A, tau, B):  # the fallback's convention: (K, m, n)
        e = np.exp(-t / tau)
        shape = np.broadcast(t, A).shape
        return np.stack([np.broadcast_to(e, shape), A * e * t / tau**2,
                         np.ones(shape)], axis=-1)

    from trustfit.batch._model import BatchModel

    bm = BatchModel(["A", "tau", "B"], func=decay, jac_func=jac)
    r = fit_batch(bm, T, Y, [30.0, 2.0, 1.0], noise="poisson", **TIGHT)
    s = fit_batch(MODEL, T, Y, START, noise="poisson", **TIGHT)
    both = r.success & s.success
    assert both.sum() >= 5
    np.testing.assert_allclose(r.params[both], s.params[both], rtol=1e-6)
    np.testing.assert_allclose(r.stderr[both], s.stderr[both], rtol=1e-6)


def test_zero_counts_are_finite_and_all_zero_curves_are_reported():
    Y = _stack(8, seed=2, true=np.array([3.0, 1.5, 0.05]))  # mostly zeros
    Y[2] = 0.0
    Y[5, :] = np.nan
    assert np.mean(Y[np.isfinite(Y)] == 0) > 0.6
    r = fit_batch(MODEL, T, Y, {"A": 2.0, "tau": 1.0, "B": 0.1}, noise="poisson")
    assert r.stop_reason[2] is StopReason.INVALID_INPUT and r.diagnosis[2] == "invalid_data"
    assert r.stop_reason[5] is StopReason.INVALID_INPUT
    assert np.isnan(r.params[2]).all() and not r.success[2]
    assert any("zero counts in every bin (first: [2])" in note for note in r.notes)
    rest = np.array([i for i in range(8) if i not in (2, 5)])
    # every other curve ends with finite numbers: no NaN from a zero count
    assert np.isfinite(r.params[rest]).all() and np.isfinite(r.cost[rest]).all()
    assert r.success[rest].sum() >= 4
    ok = rest[r.success[rest]]
    assert np.isfinite(r.stderr[ok]).all() and (r.low_count_share[ok] > 0.5).all()
    assert any("below 5 counts" in note for note in r.notes)


def test_starts_with_non_positive_means():
    Y = _stack(3, seed=4)
    with pytest.raises(ValueError, match="non-positive or non-finite counts at the points"):
        fit_batch(MODEL, T, Y, {"A": 1.0, "tau": 2.0, "B": -5.0}, noise="poisson")
    p0 = np.array([[30.0, 2.0, 1.0], [1.0, 2.0, -5.0], [30.0, 2.0, 1.0]])
    r = fit_batch(MODEL, T, Y, p0, noise="poisson")
    assert r.diagnosis[1] == "invalid_start" and r.stop_reason[1] is StopReason.INVALID_INPUT
    assert r.success[[0, 2]].all()
    assert any("(first: [1]) start where the model predicts non-positive" in n for n in r.notes)


@pytest.mark.parametrize("kwargs, match", [
    (dict(sigma=1.0), "sigma does not apply"),
    (dict(method="varpro"), "varpro"),
    (dict(noise="counts"), "noise must be"),
])
def test_bad_arguments_are_named(kwargs, match):
    kwargs = {"noise": "poisson", **kwargs}
    with pytest.raises(ValueError, match=match):
        fit_batch(MODEL, T, _stack(2), START, **kwargs)


def test_counts_must_be_whole_numbers():
    Y = _stack(3)
    Y[1, 4] = 2.5
    with pytest.raises(ValueError, match=r"Y\[1, 4\] = 2.5"):
        fit_batch(MODEL, T, Y, START, noise="poisson")
    Y[1, 4] = -1
    with pytest.raises(ValueError, match="whole numbers >= 0"):
        fit_batch(MODEL, T, Y, START, noise="poisson")


def test_compiled_kernel_fits_the_counts_as_the_numpy_path_does():
    """The kernel's point pass computes the deviance residuals (._codegen_poisson): the same
    iterations, stop codes and estimates as the numpy path, to rounding."""
    Y = _stack(40, seed=8)
    Y[7] = 0.0
    fits = {be: fit_batch(MODEL, T, Y, START, noise="poisson", backend=be)
            for be in ("compiled", "numpy")}
    c, n = fits["compiled"], fits["numpy"]
    assert c.backend == "compiled" and n.backend == "numpy"
    np.testing.assert_array_equal(c.stop_code, n.stop_code)
    np.testing.assert_array_equal(c.nit, n.nit)
    ok = n.success
    assert ok.sum() >= 35 and not ok[7] and np.isnan(c.params[7]).all()
    np.testing.assert_allclose(c.params[ok], n.params[ok], rtol=1e-9)
    np.testing.assert_allclose(c.stderr[ok], n.stderr[ok], rtol=1e-9)
    np.testing.assert_allclose(c.deviance[ok], n.deviance[ok], rtol=1e-12)


def test_lifetime_bias_below_half_a_percent_where_least_squares_is_biased():
    """The issue's target on the benchmark's data (64 bins, mean counts 50 down to 0.3):
    the MLE's mean lifetime over the certified curves within 0.5 % of the truth, least
    squares with sigma = sqrt(max(y, 1)) biased by more (by about -9 %)."""
    Y = _stack(3000, seed=11)
    mle = fit_batch(MODEL, T, Y, START, noise="poisson")
    ls = fit_batch(MODEL, T, Y, START, sigma=np.sqrt(np.maximum(Y, 1.0)),
                   absolute_sigma=True, backend="numpy")
    assert mle.success.mean() > 0.9
    bias_mle = mle.params[mle.success, 1].mean() / TRUE[1] - 1
    bias_ls = ls.params[ls.success, 1].mean() / TRUE[1] - 1
    assert abs(bias_mle) < 0.005
    assert abs(bias_ls) > 0.05 > 10 * abs(bias_mle)


@settings(max_examples=6, deadline=None)
@given(exponent=st.integers(-30, 30))
def test_units_of_time_do_not_change_the_verdict(exponent):
    """t in other units (tau with it): from the same point, the same certificate, the same A
    and B, tau and its standard error scaled. (The paths from a distant start may differ: the
    batch's Levenberg-Marquardt damps with mu I, Madsen-Nielsen-Tingleff's rule, as the
    Gaussian batch does; the certificate's and the standard errors' rules are ratios.)"""
    c = 2.0 ** exponent * 1.7
    Y = _stack(20, seed=3)
    first = fit_batch(MODEL, T, Y, START, noise="poisson")
    Y, P = Y[first.success], first.params[first.success]  # starts near the optimum
    base = fit_batch(MODEL, T, Y, P, noise="poisson")
    scaled = fit_batch(MODEL, T * c, Y, P * [1, c, 1], noise="poisson")
    assert base.success.all() and scaled.success.all() and len(Y) >= 15
    ok = base.success
    # the default ftol (1e-8 of a cost of about 30) stops each within ~1e-3 standard errors
    shift = np.abs(scaled.params[ok] / [1, c, 1] - base.params[ok]) / base.stderr[ok]
    assert shift.max() < 1e-3
    np.testing.assert_allclose(scaled.stderr[ok] / [1, c, 1], base.stderr[ok], rtol=1e-4)
