"""trustfit.curve_fit against scipy.optimize.curve_fit (signature, return values, sigma
semantics), and trustfit.fit's full result."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize as so

import trustfit
from trustfit import FitWarning
from trustfit.core.events import JacobianReevaluated

X = np.linspace(0.0, 4.0, 15)
SIG = 0.05 + 0.02 * X
Y = 2.5 * np.exp(-1.3 * X) + 0.4 + 0.03 * np.sin(7.0 * X)
P0 = [1.0, 1.0, 0.0]


def decay(x, a, k, c):
    return a * np.exp(-k * x) + c


def decay_jac(x, a, k, c):
    e = np.exp(-k * x)
    return np.column_stack([e, -a * x * e, np.ones_like(x)])


@pytest.mark.parametrize("sigma", [None, SIG, np.diag(SIG ** 2)], ids=["none", "1d", "2d"])
@pytest.mark.parametrize("absolute_sigma", [False, True])
def test_matches_scipy(sigma, absolute_sigma):
    popt, pcov = trustfit.curve_fit(decay, X, Y, p0=P0, sigma=sigma,
                                    absolute_sigma=absolute_sigma, jac=decay_jac)
    sp, sc = so.curve_fit(decay, X, Y, p0=P0, sigma=sigma, absolute_sigma=absolute_sigma,
                          jac=decay_jac, ftol=1e-14, xtol=1e-14, gtol=1e-14)
    np.testing.assert_allclose(popt, sp, rtol=1e-7)
    np.testing.assert_allclose(pcov, sc, rtol=1e-5)


def test_matches_scipy_without_jacobian():
    popt, pcov = trustfit.curve_fit(decay, X, Y, p0=P0)
    sp, sc = so.curve_fit(decay, X, Y, p0=P0, jac=decay_jac, ftol=1e-14, xtol=1e-14,
                          gtol=1e-14)
    np.testing.assert_allclose(popt, sp, rtol=1e-6)
    np.testing.assert_allclose(pcov, sc, rtol=1e-4)  # 3-point Jacobian at the solution


def test_full_output_and_defaults():
    popt, pcov, info, mesg, ier = trustfit.curve_fit(decay, X, Y, full_output=True)
    # leastsq's keys (SciPy's curve_fit without bounds), plus the full result
    assert set(info) == {"nfev", "fvec", "fjac", "ipvt", "qtf", "result"}
    assert ier in (1, 2, 3) and mesg.startswith("Converged")
    r = info["result"]
    assert isinstance(r, trustfit.FitResult)
    np.testing.assert_array_equal(r.x0, [1.0, 1.0, 1.0])  # p0=None: ones, as SciPy
    assert r.param_names == ("a", "k", "c")
    np.testing.assert_allclose(info["fvec"], decay(X, *popt) - Y)


def test_fit_returns_full_result_with_names_and_report():
    r = trustfit.fit(decay, X, Y, p0=P0, sigma=SIG)
    assert r.success and r.param_names == ("a", "k", "c")
    np.testing.assert_array_equal(r.ydata, Y)
    np.testing.assert_array_equal(r.sigma, SIG)
    assert r.jac_method == "5-point"  # left by the solver's polish (trustfit.solve.polish)
    assert r.events == ()
    # Without the polish, the Jacobian at the solution is re-evaluated for the covariance.
    unpolished = trustfit.least_squares(lambda p: (decay(X, *p) - Y) / SIG, P0, polish=False)
    r = trustfit.fit(decay, X, Y, p0=P0, sigma=SIG, polish=False)
    assert r.jac_method == "3-point"
    assert r.events == (JacobianReevaluated("3-point", nfev=6),)  # 2 per parameter
    assert r.nfev_fd == unpolished.nfev_fd + 6
    assert str(r.events[0]) == ("jac re-evaluated at the solution with 3-point differences "
                                "for the covariance.")
    text = r.report()
    for name in ("a", "k", "c"):
        assert any(line.startswith(f"{name} ") for line in text.splitlines())
    full = r.report(full=True)
    assert "R^2" in full and "AIC" in full and "Covariance: rank 3 of 3" in full


def test_nan_policy():
    y = Y.copy()
    y[[2, 9]] = np.nan
    with pytest.raises(ValueError, match="must be finite"):
        trustfit.curve_fit(decay, X, y, p0=P0)
    popt, _ = trustfit.curve_fit(decay, X, y, p0=P0, nan_policy="omit", jac=decay_jac)
    keep = ~np.isnan(y)
    ref, _ = trustfit.curve_fit(decay, X[keep], Y[keep], p0=P0, jac=decay_jac)
    np.testing.assert_allclose(popt, ref, rtol=1e-12)
    # SciPy's wording first, then the policies trustfit accepts
    with pytest.raises(ValueError, match=r"^`nan_policy='propagate'` is not supported .* "
                                         r"None \(no check\), 'raise' or 'omit'"):
        trustfit.curve_fit(decay, X, Y, p0=P0, nan_policy="propagate")


def test_bounds_and_method_pass_through():
    popt, _ = trustfit.curve_fit(decay, X, Y, p0=[1.0, 1.0, 0.6],
                                 bounds=([0, 0, 0.5], [10, 10, 1]), method="trf")
    assert popt[2] == pytest.approx(0.5)


def test_rank_deficient_warns_and_names_the_combination():
    t = np.linspace(0.0, 4.0, 9)
    y = 2.0 * np.exp(-t) + 0.01 * np.cos(5 * t)
    with pytest.warns(FitWarning) as record:
        popt, pcov = trustfit.curve_fit(lambda t, b0, b1: b0 * b1 * np.exp(-t), t, y,
                                        p0=[3.0, 0.5])
    assert str(record[0].message) == (
        "The Jacobian has rank 1 < 2 at the solution: only b0·b1 is determined. pcov is the "
        "pseudo-inverse.")
    assert np.all(np.isfinite(pcov))


def test_not_converged_raises_like_scipy():
    with pytest.raises(RuntimeError, match="Optimal parameters not found: Not converged"):
        trustfit.curve_fit(decay, X, Y, p0=P0, maxfev=3)


def test_varargs_model_needs_p0():
    def f(x, *p):
        return p[0] * x + p[1]

    with pytest.raises(ValueError, match="p0 is needed"):
        trustfit.curve_fit(f, X, Y)
    popt, _ = trustfit.curve_fit(f, X, 2 * X + 1, p0=[0.0, 0.0])
    np.testing.assert_allclose(popt, [2.0, 1.0], atol=1e-8)


def test_sigma_shape_is_checked():
    with pytest.raises(ValueError, match=r"sigma must have shape \(15,\) or \(15, 15\)"):
        trustfit.curve_fit(decay, X, Y, p0=P0, sigma=np.ones(3))


def test_no_degrees_of_freedom_warns():
    x = np.array([0.0, 1.0])
    with pytest.warns(FitWarning, match="No degrees of freedom left"):
        popt, pcov = trustfit.curve_fit(lambda x, a, b: a + b * x, x, [1.0, 3.0])
    np.testing.assert_allclose(popt, [1.0, 2.0], atol=1e-8)
    assert np.isnan(pcov).all()
    popt, pcov = trustfit.curve_fit(lambda x, a, b: a + b * x, x, [1.0, 3.0], sigma=[1.0, 1.0],
                                    absolute_sigma=True)
    np.testing.assert_allclose(pcov, [[1.0, -1.0], [-1.0, 2.0]], atol=1e-8)
