"""Covariance, standard errors, intervals and goodness of fit, against closed forms."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import trustfit
from trustfit import examples as ex
from trustfit.analysis import uncertainty as st
from trustfit.strategies.profile import profile_intervals

X = np.linspace(0.0, 10.0, 12)
NOISE = 0.3 * np.sin(3.1 * X)  # deterministic "noise"
Y_LIN = 1.5 + 0.8 * X + NOISE


def line(p):
    return p[0] + p[1] * X - Y_LIN


def line_jac(p):
    return np.column_stack([np.ones_like(X), X])


@pytest.fixture(scope="module")
def linear():
    return trustfit.least_squares(line, [0.0, 0.0], jac=line_jac)


def test_linear_covariance_closed_form(linear):
    A = line_jac(None)
    m, n = A.shape
    s2 = float(linear.fun @ linear.fun) / (m - n)
    expected = s2 * np.linalg.inv(A.T @ A)
    cov = st.covariance(linear)
    np.testing.assert_allclose(cov.matrix, expected, rtol=1e-10)
    assert cov.rank == 2 and not cov.rank_deficient and cov.null_space.shape == (2, 0)
    np.testing.assert_allclose(st.standard_errors(linear), np.sqrt(np.diag(expected)),
                               rtol=1e-10)
    corr = st.correlation(linear)
    assert corr[0, 1] == pytest.approx(expected[0, 1] / math.sqrt(expected[0, 0] *
                                                                 expected[1, 1]), rel=1e-10)
    np.testing.assert_allclose(np.diag(corr), 1.0)


def test_t_intervals_and_profile_intervals_agree_for_a_linear_model(linear):
    # For a linear model the profile-likelihood interval with the F(1, m-n) threshold is the
    # t interval exactly (F(1, v) = t(v)^2).
    ci = st.confidence_intervals(linear, 0.95)
    q = stats.t.ppf(0.975, X.size - 2)
    se = st.standard_errors(linear)
    np.testing.assert_allclose(ci, np.column_stack([linear.x - q * se, linear.x + q * se]),
                               rtol=1e-12)
    prof = profile_intervals(linear, line, 0.95)
    np.testing.assert_allclose(prof, ci, rtol=1e-7)


def test_profile_intervals_are_asymmetric_for_a_nonlinear_model():
    r = trustfit.least_squares(ex.residuals, ex.STARTS[0], jac=ex.jacobian)
    prof = profile_intervals(r, ex.residuals, 0.95, params=[0, 1])
    ci = st.confidence_intervals(r, 0.95)
    # The profile threshold is met exactly at both ends (Bates & Watts 1988, sec. 6.1).
    for j in (0, 1):
        lo, hi = prof[j]
        assert lo < r.x[j] < hi
        assert abs((hi - r.x[j]) - (r.x[j] - lo)) > 1e-3  # asymmetric, unlike the t interval
        assert np.isfinite(ci[j]).all()
    assert np.isnan(prof[2:]).all()


def test_goodness_of_fit_formulas(linear):
    g = st.goodness_of_fit(linear, ydata=Y_LIN)
    chi2 = float(linear.fun @ linear.fun)
    m, n = X.size, 2
    assert (g.nobs, g.nparams, g.dof) == (m, n, m - n)
    assert g.chi2 == pytest.approx(chi2, rel=1e-12)
    assert g.redchi == pytest.approx(chi2 / (m - n), rel=1e-12)
    assert g.aic == pytest.approx(m * math.log(chi2 / m) + 2 * n, rel=1e-12)
    assert g.bic == pytest.approx(m * math.log(chi2 / m) + n * math.log(m), rel=1e-12)
    assert g.r2 == pytest.approx(1 - chi2 / np.sum((Y_LIN - Y_LIN.mean()) ** 2), rel=1e-12)
    assert math.isnan(st.goodness_of_fit(linear).r2)  # no data, no R^2


def test_duplicated_residuals_scale_the_errors_exactly():
    """Every residual twice: the same fit, twice the information, and the residual variance
    re-estimated with 2m - n degrees of freedom: se' = se sqrt((m - n) / (2m - n))."""
    one = trustfit.least_squares(ex.residuals, ex.STARTS[0], jac=ex.jacobian)
    two = trustfit.least_squares(lambda x: np.concatenate([ex.residuals(x)] * 2), ex.STARTS[0],
                                 jac=lambda x: np.vstack([ex.jacobian(x)] * 2))
    np.testing.assert_allclose(two.x, one.x, rtol=1e-6)
    m, n = ex.T.size, 4
    ratio = st.standard_errors(two) / st.standard_errors(one)
    np.testing.assert_allclose(ratio, math.sqrt((m - n) / (2 * m - n)), rtol=1e-5)
    assert two.diagnosis.codes == ()


def test_rank_deficient_covariance_is_the_flagged_pseudo_inverse():
    t = np.linspace(0.0, 4.0, 9)
    y = 2.0 * np.exp(-t) + 0.01 * np.cos(5 * t)

    def fun(b):
        return b[0] * b[1] * np.exp(-t) - y

    def jac(b):
        return np.column_stack([b[1] * np.exp(-t), b[0] * np.exp(-t)])

    r = trustfit.least_squares(fun, [3.0, 0.5], jac=jac)
    cov = st.covariance(r)
    assert cov.rank == 1 and cov.rank_deficient
    s2 = 2 * r.cost / (t.size - 1)
    assert cov.residual_variance == pytest.approx(s2, rel=1e-12)
    # A generalised inverse of J^T J (times s2): (J^T J) C (J^T J) = s2 J^T J ...
    H = r.jac.T @ r.jac
    np.testing.assert_allclose(H @ cov.matrix @ H, s2 * H, rtol=1e-7)
    # ... so the variance of the determined combination b1 db0 + b0 db1 (the row space of J)
    # is the same as with the Moore-Penrose pseudo-inverse in parameter units.
    c = np.array([r.x[1], r.x[0]])
    assert c @ cov.matrix @ c == pytest.approx(s2 * c @ np.linalg.pinv(H, rcond=1e-10) @ c,
                                               rel=1e-7)
    assert np.all(np.isfinite(cov.matrix))
    # The null direction: d(b0 b1) = b1 db0 + b0 db1 = 0, i.e. along (b0, -b1).
    v = cov.null_space[:, 0] * np.sign(cov.null_space[0, 0])
    np.testing.assert_allclose(v, np.array([r.x[0], -r.x[1]]) / np.hypot(*r.x), atol=1e-8)


def test_covariance_rank_is_decided_on_the_scaled_jacobian():
    # Parameters of very different sizes (1e-9 next to 1): the unscaled Jacobian has
    # condition ~1e9 but the problem is perfectly determined.
    x = np.linspace(1.0, 2.0, 8)
    y = 1.0 + 3e-9 * 1e9 * x + 0.01 * np.cos(9 * x)

    def fun(p):
        return p[0] + p[1] * 1e9 * x - y

    def jac(p):
        return np.column_stack([np.ones_like(x), 1e9 * x])

    r = trustfit.least_squares(fun, [0.0, 0.0], jac=jac)
    cov = st.covariance(r)
    assert cov.rank == 2 and np.all(cov.stderr > 0)


def test_absolute_sigma_and_level_checks(linear):
    abs_cov = st.covariance(linear, absolute_sigma=True)
    A = line_jac(None)
    np.testing.assert_allclose(abs_cov.matrix, np.linalg.inv(A.T @ A), rtol=1e-10)
    ci = st.confidence_intervals(linear, 0.9, absolute_sigma=True)
    q = stats.norm.ppf(0.95)
    np.testing.assert_allclose(ci[:, 1] - linear.x, q * abs_cov.stderr, rtol=1e-12)
    with pytest.raises(ValueError, match="level must be between 0 and 1"):
        st.confidence_intervals(linear, 95)
