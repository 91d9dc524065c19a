"""Poisson maximum likelihood (issue 18): noise='poisson' in curve_fit and fit, against a direct
minimisation of the negative log-likelihood (scipy.optimize.minimize, exact derivatives, tight
tolerance) and the inverse Fisher information computed here from its definition."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import optimize, special, stats

import trustfit
from trustfit.analysis.uncertainty import covariance
from trustfit.kinds import poisson


def decay(t, A, tau, B):
    return A * np.exp(-t / tau) + B


def decay_jac(t, A, tau, B):
    e = np.exp(-t / tau)
    return np.column_stack([e, A * e * t / tau**2, np.ones_like(t)])


T = np.arange(64) * 0.25
TRUE = np.array([50.0, 2.5, 0.2])  # mean counts from 50 down to about 0.3


def _counts(seed):
    return np.random.default_rng(seed).poisson(decay(T, *TRUE)).astype(float)


def _reference(y, t=T):
    """MLE by Newton-type minimisation of the NLL with exact gradient and Hessian, from the
    true parameters, to the limit of double precision."""
    def nll(p):
        mu = decay(t, *p)
        return float(np.sum(mu - special.xlogy(y, mu)))

    def grad(p):
        mu = decay(t, *p)
        return decay_jac(t, *p).T @ (1 - y / mu)

    def hess(p):
        A, tau, B = p
        mu, J = decay(t, *p), decay_jac(t, *p)
        e = np.exp(-t / tau)
        w = 1 - y / mu
        H = J.T @ (J * (y / mu**2)[:, None])
        d2 = np.zeros((3, 3))
        d2[0, 1] = d2[1, 0] = np.sum(w * e * t / tau**2)
        d2[1, 1] = np.sum(w * A * e * (t**2 / tau**4 - 2 * t / tau**3))
        return H + d2

    ref = optimize.minimize(nll, TRUE, jac=grad, hess=hess, method="trust-exact",
                            options={"gtol": 1e-13})
    J = decay_jac(t, *ref.x)
    fisher = J.T @ (J / decay(t, *ref.x)[:, None])
    return ref.x, np.sqrt(np.diag(np.linalg.inv(fisher)))


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("use_jac", [False, True])
def test_mle_matches_direct_nll_minimisation(seed, use_jac):
    y = _counts(seed)
    assert np.sum(y == 0) >= 3  # zeros in the data
    x_ref, se_ref = _reference(y)
    r = trustfit.fit(decay, T, y, [30, 2, 1], noise="poisson",
                     jac=decay_jac if use_jac else None)
    assert r.success, r.message
    np.testing.assert_allclose(r.x, x_ref, rtol=1e-7)
    np.testing.assert_allclose(r.stderr, se_ref, rtol=1e-6)
    popt, pcov = trustfit.curve_fit(decay, T, y, [30, 2, 1], noise="poisson")
    np.testing.assert_allclose(popt, x_ref, rtol=1e-7)
    np.testing.assert_allclose(np.sqrt(np.diag(pcov)), se_ref, rtol=1e-6)


def test_statistics_and_low_count_note():
    y = _counts(1)
    r = trustfit.fit(decay, T, y, [30, 2, 1], noise="poisson")
    mu = decay(T, *r.x)
    deviance = 2 * np.sum(special.xlogy(y, y / mu) - (y - mu))
    pearson = np.sum((y - mu) ** 2 / mu)
    np.testing.assert_allclose(r.deviance, deviance, rtol=1e-12)
    np.testing.assert_allclose(2 * r.cost, deviance, rtol=1e-12)
    np.testing.assert_allclose(r.pearson_chi2, pearson, rtol=1e-12)
    assert r.dof == 61
    np.testing.assert_allclose(r.deviance_pvalue, stats.chi2.sf(deviance, 61), rtol=1e-12)
    np.testing.assert_allclose(r.pearson_pvalue, stats.chi2.sf(pearson, 61), rtol=1e-12)
    # every generic layer sees the maximum-likelihood statistics (Fisher scoring's pair)
    np.testing.assert_allclose(covariance(r).stderr, r.stderr, rtol=1e-12)
    np.testing.assert_allclose(np.sum(r.fun ** 2), pearson, rtol=1e-12)
    np.testing.assert_allclose(np.sum(r.deviance_residuals ** 2), deviance, rtol=1e-12)
    assert "Findings: none." in r.report()
    share = round(100 * np.mean(y < 5))
    assert r.notes and r.notes[0].startswith(f"{share}% of bins have fewer than 5 counts")
    high = trustfit.fit(decay, T, y + 20, [30, 2, 21], noise="poisson")
    assert high.notes == ()


def test_deviance_residuals_are_smooth_through_y_equals_mu():
    """The slope dr/dmu = q(t)/sqrt(mu) against a central difference of r, on both sides of
    the switch to the series (|t| = 0.1), at t = 0 exactly and at y = 0."""
    y = np.array([0.0, 3, 3, 3, 3, 3, 3, 7])
    mu = np.array([0.7, 3.0, 3 * (1 + 1e-9), 3 / 1.0999, 3 / 1.1001, 3 / 0.9, 2.0, 7.5])
    h = 1e-6 * mu
    numeric = (poisson.deviance_residuals(y, mu + h)
               - poisson.deviance_residuals(y, mu - h)) / (2 * h)
    np.testing.assert_allclose(poisson.residual_slope(y, mu), numeric, rtol=1e-7)
    r = poisson.deviance_residuals(y, mu)
    # (the direct formula cancels at t = 1e-9: an absolute tolerance there)
    np.testing.assert_allclose(r ** 2, 2 * (special.xlogy(y, y / mu) - (y - mu)),
                               rtol=1e-10, atol=1e-15)
    assert r[1] == 0.0 and r[0] == np.sqrt(1.4)


def test_nonpositive_start_is_named_and_trial_is_rejected():
    y = _counts(2)

    def line(t, a, b):
        return a + b * t

    with pytest.raises(ValueError, match=r"non-positive .* at the points \[60, 61, 62, 63\]"):
        trustfit.fit(line, T, y, [30, -2], noise="poisson")
    seen = {"nonpositive": 0}

    def watched(t, A, tau, B):
        mu = decay(t, A, tau, B)
        seen["nonpositive"] += int(np.any(mu <= 0))
        return mu

    # from this start the first steps overshoot below zero somewhere: rejected, not raised
    r = trustfit.fit(watched, T, y, [5, 0.5, 3], noise="poisson")
    assert seen["nonpositive"] > 0
    assert r.success and np.all(r.mu > 0)
    np.testing.assert_allclose(r.x, _reference(y)[0], rtol=1e-7)


@pytest.mark.parametrize("kwargs, match", [
    ({"ydata": np.full(64, 2.5)}, r"counts \(whole numbers >= 0\); ydata\[0\] = 2.5"),
    ({"ydata": -np.ones(64)}, r"ydata\[0\] = -1.0"),
    ({"sigma": np.ones(64)}, "sigma does not apply"),
    ({"sigma_x": 0.1}, "sigma_x and noise='poisson' together"),
])
def test_bad_arguments_are_named(kwargs, match):
    args = {"ydata": _counts(1)} | kwargs
    y = args.pop("ydata")
    with pytest.raises(ValueError, match=match):
        trustfit.curve_fit(decay, T, y, [30, 2, 1], noise="poisson", **args)


@settings(max_examples=5, deadline=None)
@given(exponent=st.integers(-30, 30))
def test_time_units_do_not_change_the_fit(exponent):
    """t in other units (tau with it): the same decision and the same fit, to rounding."""
    c = 10.0 ** exponent
    y = _counts(3)
    base = trustfit.fit(decay, T, y, [30, 2, 1], noise="poisson")
    r = trustfit.fit(decay, T * c, y, [30, 2 * c, 1], noise="poisson")
    assert r.success and base.success
    np.testing.assert_allclose(r.x, base.x * [1, c, 1], rtol=1e-8)
    np.testing.assert_allclose(r.stderr, base.stderr * [1, c, 1], rtol=1e-6)


def test_maximum_on_the_boundary_is_refused_and_named_then_certified_with_bounds():
    """A free background: for this data set the likelihood rises toward mu = 0 at a zero-count
    bin (negative background), so there is no stationary point; with background >= 0 the
    maximum is on that bound and certified, and equals the NLL minimised with the background
    held at 0 (Nelder-Mead)."""
    y = np.random.default_rng(1001).poisson(decay(T, *TRUE)).astype(float)
    r = trustfit.fit(decay, T, y, [40, 2, 0.5], noise="poisson", jac=decay_jac)
    assert not r.success
    assert any("maximum is on the boundary of the model's domain" in n for n in r.notes)
    b = trustfit.fit(decay, T, y, [40, 2, 0.5], noise="poisson", jac=decay_jac,
                     bounds=(0, np.inf))
    assert b.success and b.x[2] == 0.0

    def nll(p):
        mu = decay(T, p[0], p[1], 0.0)
        return float(np.sum(mu - special.xlogy(y, mu)))

    ref = optimize.minimize(nll, b.x[:2], method="Nelder-Mead",
                            options={"xatol": 1e-12, "fatol": 1e-14, "maxiter": 20000})
    np.testing.assert_allclose(b.x[:2], ref.x, rtol=1e-7)


def test_profile_likelihood_intervals_from_the_note():
    """The note's recipe: likelihood-ratio intervals, where the deviance rises by
    chi2(1; 0.95) = 3.84 over its minimum (checked on the deviance itself)."""
    from trustfit.strategies.profile import profile_intervals

    y = _counts(1)
    r = trustfit.fit(decay, T, y, [30, 2, 1], noise="poisson", jac=decay_jac)
    iv = profile_intervals(r, r.residual_function, absolute_sigma=True, params=[1])
    for tau in iv[1]:
        refit = trustfit.fit(lambda t, A, B: decay(t, A, tau, B), T, y, r.x[[0, 2]],
                             noise="poisson")
        np.testing.assert_allclose(refit.deviance - r.deviance, stats.chi2.ppf(0.95, 1),
                                   rtol=1e-5)
