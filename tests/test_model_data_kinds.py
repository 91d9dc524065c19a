"""Model.fit(..., sigma_x=...) and Model.fit(..., noise='poisson') (issue 18): the lmfit-shaped
fit against ODRPACK (``odrpack``), against SciPy's least_squares on the stacked problem where
Parameter bounds are active, and against a direct minimisation of the Poisson likelihood."""
import numpy as np
import pytest

from trustfit.models import Model
from test_odr import PROBLEMS, _odrpack
from test_odr_bounds import ACTIVE, _stacked
from test_poisson import T, _counts, _reference

pytest.importorskip("odrpack")
DECAY = "A*exp(-k*x) + c"


def _values(result, names):
    return np.array([result.params[n].value for n in names])


def _errors(result, names):
    return np.array([result.params[n].stderr for n in names])


def test_sigma_x_matches_odrpack_and_reports_the_corrections():
    _, f, x, y, p0, sx, sy = PROBLEMS[0]
    ref = _odrpack(f, x, y, p0, sx, sy)
    r = Model(DECAY, independent="x").fit(y, x=x, A=3, k=1, c=0.3, sigma=sy, sigma_x=sx)
    assert r.success and r.method == "odr"
    np.testing.assert_allclose(_values(r, ["A", "k", "c"]), ref.beta, rtol=1e-6)
    np.testing.assert_allclose(_errors(r, ["A", "k", "c"]), ref.sd_beta, rtol=1e-6)
    np.testing.assert_allclose(r.delta, ref.delta, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(r.x_adjusted, x + r.delta, rtol=1e-15)
    # weights (lmfit's 1/sigma) mean the same
    w = Model(DECAY, independent="x").fit(y, x=x, A=3, k=1, c=0.3, weights=1 / sy,
                                          sigma_x=sx)
    np.testing.assert_allclose(_values(w, ["A", "k", "c"]), ref.beta, rtol=1e-6)


def test_two_independent_variables_and_a_fixed_parameter():
    _, f, X, y, p0, sx, sy = PROBLEMS[2]
    m = Model("a*exp(-b*u) + c*log(v)", independent=["u", "v"])
    ref = _odrpack(f, X, y, p0, sx, sy)
    r = m.fit(y, u=X[0], v=X[1], a=1, b=1, c=1, sigma=sy, sigma_x=sx[:, 0])
    np.testing.assert_allclose(_values(r, ["a", "b", "c"]), ref.beta, rtol=1e-6)
    np.testing.assert_allclose(_errors(r, ["a", "b", "c"]), ref.sd_beta, rtol=1e-6)
    assert r.delta.shape == X.shape
    params = m.make_params(a=1, b=1, c=ref.beta[2])
    params["c"].vary = False
    held = m.fit(y, params, u=X[0], v=X[1], sigma=sy, sigma_x=sx[:, 0])
    assert held.success and held.params["c"].value == ref.beta[2]
    np.testing.assert_allclose(_values(held, ["a", "b"]), ref.beta[:2], rtol=1e-5)


def test_parameter_bounds_with_sigma_x_match_the_stacked_problem():
    _, f, x, y, p0, sx, sy = PROBLEMS[0]
    lb, ub = np.array(ACTIVE[0][1]), np.array(ACTIVE[0][2])
    model = Model(DECAY, independent="x")
    params = model.make_params(A=3, k=0.75, c=0.6)
    for name, lo, hi in zip("A k c".split(), lb, ub):
        params[name].set(min=lo, max=hi)
    r = model.fit(y, params, x=x, sigma=sy, sigma_x=sx)
    p_ref, _, _ = _stacked(f, x, y, np.array([3, 0.75, 0.6]), sx, sy, lb, ub)
    assert r.success
    np.testing.assert_allclose(_values(r, ["A", "k", "c"]), p_ref, rtol=1e-7, atol=1e-12)


def test_poisson_counts_match_the_direct_likelihood_maximum():
    y = _counts(2)
    x_ref, se_ref = _reference(y)
    r = Model("A*exp(-t/tau) + B", independent="t").fit(y, t=T, A=30, tau=2, B=1,
                                                        noise="poisson")
    assert r.success
    np.testing.assert_allclose(_values(r, ["A", "tau", "B"]), x_ref, rtol=1e-7)
    np.testing.assert_allclose(_errors(r, ["A", "tau", "B"]), se_ref, rtol=1e-6)
    assert r.result.deviance > 0 and r.result.notes  # the low-count note


@pytest.mark.parametrize("kwargs, match", [
    (dict(noise="poisson", sigma_x=0.1), "sigma_x and noise='poisson'"),
    (dict(noise="poisson", sigma=1.0), "do not apply with noise='poisson'"),
    (dict(noise="laplace"), "noise must be"),
    (dict(sigma_x=0.1, method="leastsq"), "does not apply with sigma_x"),
])
def test_bad_combinations_are_named(kwargs, match):
    y = _counts(1)
    with pytest.raises(ValueError, match=match):
        Model("A*exp(-t/tau) + B", independent="t").fit(y, t=T, A=30, tau=2, B=1, **kwargs)
