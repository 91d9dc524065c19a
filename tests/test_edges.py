"""Derivatives at the edge of their domain (issue 12, item 6).

``d/db u**b = u**b log(u)`` is ``0 * (-inf) = NaN`` at ``u = 0`` in floating point although
its limit is 0 for ``b > 0``.  The stretched exponential from ``t = 0`` and the Hill
curve from ``x = 0`` must fit, single and batch, to the minimum SciPy finds at tight
tolerance from the true parameters; a curve that still fails says which derivative is
not finite and where.
"""

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import least_squares as scipy_least_squares

from trustfit import least_squares
from trustfit.batch import fit_batch
from trustfit.batch._model import as_batch_model
from trustfit.batch._nonfinite import explain_nonfinite
from trustfit.models import Model
from trustfit.models._edges import EdgeLog, edge_safe_diff, guard_edges

STRETCHED = "a*exp(-(t/tau)**beta) + c"
HILL = "top*x**n/(K**n + x**n) + bottom"
# The parameter vectors of these tests are in this order (not the written one), passed as params=
ORDER = {STRETCHED: ["a", "beta", "c", "tau"], HILL: ["bottom", "K", "n", "top"]}

t_, tau_, beta_, x_, n_, K_ = sympy.symbols("t tau beta x n K", real=True)


def _np(expr, *args):
    """numpy function of ``args`` (called with numpy floats, as models call it)."""
    f = sympy.lambdify(args, expr, ["scipy", "numpy"])
    return lambda *v: f(*(np.asarray(a, dtype=float) for a in v))


# ------------------------------------------------------------------ the rewrite itself
def test_stretched_derivative_at_zero_is_the_limit():
    phi = sympy.exp(-((t_ / tau_) ** beta_))
    d = _np(edge_safe_diff(phi, beta_), t_, tau_, beta_)
    with np.errstate(all="ignore"):
        raw = _np(sympy.diff(phi, beta_), t_, tau_, beta_)(0.0, 2.0, 0.7)
    assert np.isnan(raw)  # what floating point gives without the rewrite
    assert d(0.0, 2.0, 0.7) == 0.0
    assert d(np.array([0.0, 0.0]), 2.0, 1.3).tolist() == [0.0, 0.0]


def test_hill_derivative_at_zero_is_the_limit():
    f = x_**n_ / (K_**n_ + x_**n_)
    d = _np(edge_safe_diff(f, n_), x_, K_, n_)
    assert d(0.0, 1.5, 2.0) == 0.0
    assert np.all(np.isfinite(d(np.array([0.0, 1e-300, 1.0, 1e3]), 1.5, 0.6)))


@settings(max_examples=200, deadline=None)
@given(x=st.floats(1e-300, 1e6), tau=st.floats(1e-3, 1e3), beta=st.floats(-5.0, 5.0))
def test_rewrite_unchanged_away_from_zero(x, tau, beta):
    phi = sympy.exp(-((t_ / tau_) ** beta_)) * (t_ / tau_) ** 2
    guarded = _np(edge_safe_diff(phi, beta_), t_, tau_, beta_)
    raw = _np(sympy.diff(phi, beta_), t_, tau_, beta_)
    with np.errstate(all="ignore"):
        g, r = guarded(x, tau, beta), raw(x, tau, beta)
    # the printed guard adds exactly 0 where u != 0: the same bits, NaN where NaN
    assert (g == r) or (np.isnan(g) and np.isnan(r)) or abs(g - r) <= 1e-14 * abs(r)


def test_guard_only_where_the_function_is_finite():
    d = _np(edge_safe_diff((x_ / K_) ** n_, n_), x_, K_, n_)
    with np.errstate(all="ignore"):
        assert d(0.0, 2.0, 1.5) == 0.0
        assert not np.isfinite(d(0.0, 2.0, -0.5))  # 0**(-0.5) = inf: function not finite
        assert not np.isfinite(d(0.0, 2.0, 0.0))  # d/dn x**n at n = 0: log(0) = -inf


def test_only_polynomials_in_the_log_under_a_vanishing_power_are_rewritten():
    # a log that no power multiplies: the derivative is -inf at 0 and stays so
    assert not guard_edges(sympy.log(x_) * K_).has(EdgeLog)
    # inside another function the log must not become 0 (exp(log x) is x, not 1)
    assert not guard_edges(x_**n_ * sympy.exp(sympy.log(x_))).has(EdgeLog)
    # a negative power does not vanish at 0
    assert not guard_edges(sympy.log(x_) / x_).has(EdgeLog)
    # powers of the log and sums with it do: x**n (log(x)**2 + K) -> 0
    e = guard_edges(x_**n_ * (sympy.log(x_) ** 2 + K_))
    assert e.has(EdgeLog)
    assert _np(e, x_, n_, K_)(0.0, 0.5, 3.0) == 0.0


def test_edgelog_is_log_where_it_can_be_decided():
    assert EdgeLog(sympy.Integer(2), n_) == sympy.log(2)
    assert EdgeLog(x_, sympy.Integer(-1)) == sympy.log(x_)
    assert EdgeLog(sympy.Integer(0), sympy.Integer(2)) == 0
    assert sympy.diff(EdgeLog(x_, n_), x_) == 1 / x_


def test_batch_kernel_source_carries_the_guard():
    from trustfit.batch._codegen import generate_accum_source

    src = generate_accum_source(as_batch_model(STRETCHED))
    assert "== 0) & (" in src and "math.log(" in src


# ------------------------------------------------------------------ data and references
def _stretched_data(N, seed=7):
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 10.0, 50)
    true = np.stack([rng.uniform(1, 3, N), rng.uniform(0.5, 1.5, N),
                     rng.uniform(0, 0.5, N), rng.uniform(1, 4, N)], 1)
    a, beta, c, tau = true.T[:, :, None]
    Y = a * np.exp(-((t / tau) ** beta)) + c + 0.02 * rng.standard_normal((N, t.size))
    return t, Y, true


def _hill_data(N, seed=8):
    rng = np.random.default_rng(seed)
    x = np.r_[0.0, np.geomspace(0.01, 100.0, 31)]
    true = np.stack([rng.uniform(-0.1, 0.1, N), 10.0 ** rng.uniform(-1, 1, N),
                     rng.uniform(0.5, 3.0, N), rng.uniform(0.8, 1.2, N)], 1)
    bottom, K, n, top = true.T[:, :, None]
    Y = top * x**n / (K**n + x**n) + bottom + 0.02 * rng.standard_normal((N, x.size))
    return x, Y, true


def _stretched_fj(t):
    def f(p):
        a, beta, c, tau = p
        return a * np.exp(-((t / tau) ** beta)) + c

    def j(p):  # by hand, with the limit at t = 0 written out
        a, beta, c, tau = p
        u = t / tau
        ub = u**beta
        e = np.exp(-ub)
        ulog = np.where(u > 0, ub * np.log(np.where(u > 0, u, 1.0)), 0.0)
        return np.stack([e, -a * e * ulog, np.ones_like(t), a * e * beta * ub / tau], 1)

    return f, j


def _hill_fj(x):
    def f(p):
        bottom, K, n, top = p
        return top * x**n / (K**n + x**n) + bottom

    def j(p):
        bottom, K, n, top = p
        xn, Kn = x**n, K**n
        s = Kn + xn
        lx = np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), 0.0)
        return np.stack([np.ones_like(x), -top * xn * n * Kn / (K * s**2),
                         top * xn * Kn * (lx - np.log(K)) / s**2, xn / s], 1)

    return f, j


def _scipy_tight(fj, y, p_true):
    """SciPy at tight tolerance from the true parameters: (x, cost = 1/2 sum r^2)."""
    f, j = fj
    res = scipy_least_squares(lambda p: f(p) - y, p_true, jac=j, method="lm",
                              ftol=1e-15, xtol=1e-15, gtol=1e-15, max_nfev=10_000)
    return res.x, res.cost


CASES = {
    "stretched": (STRETCHED, "t", _stretched_data, _stretched_fj, [2.0, 1.0, 0.2, 2.0]),
    "hill": (HILL, "x", _hill_data, _hill_fj, [0.0, 1.0, 1.0, 1.0]),
}


# ------------------------------------------------------------------ single fits
@pytest.mark.parametrize("case", list(CASES))
def test_single_fit_from_zero_reaches_scipys_tight_minimum(case):
    expr, indep, data, fj, p0 = CASES[case]
    x, Y, true = data(6)
    assert x[0] == 0.0
    model = Model(expr, independent=indep, params=ORDER[expr])
    for y, p_true in zip(Y, true):
        problem = model.fit_problem(x, y, model.make_params(**dict(zip(model.param_names, p0))))
        res = least_squares(problem.fun, problem.x0, jac=problem.jac)
        p_ref, cost_ref = _scipy_tight(fj(x), y, p_true)
        assert res.success, res.message
        # measured: cost within 5e-15 relative, parameters within 6e-9 relative
        assert res.cost <= cost_ref * (1 + 1e-12)
        np.testing.assert_allclose(res.x, p_ref, rtol=1e-7, atol=1e-8)


def test_single_fit_names_the_derivative_that_is_not_finite():
    # 1/(1 + (K/x)**n) is finite at x = 0 (K/0 = inf), its derivatives are inf/inf = NaN
    x = np.r_[0.0, np.geomspace(0.01, 100.0, 15)]
    with np.errstate(divide="ignore"):
        y = 1.0 / (1.0 + (2.0 / x) ** 1.5)
    model = Model("top/(1 + (K/x)**n) + bottom", independent="x")
    problem = model.fit_problem(x, y, model.make_params(top=1, bottom=0, K=1, n=1))
    with pytest.raises(ValueError, match=r"d/d K first at residual index 0; "
                                         r"d/d n first at residual index 0"):
        least_squares(problem.fun, problem.x0, jac=problem.jac)


# ------------------------------------------------------------------ batch
# Both compiled kernels (variable projection, the default here, and LM on all
# parameters) and the numpy fallback; one compile per kernel (~15 s CPU each, cold).
@pytest.mark.parametrize("case,method,backend,ran", [
    ("stretched", "auto", "compiled", "varpro"), ("hill", "lm", "compiled", "lm"),
    ("stretched", "lm", "numpy", "lm"), ("hill", "lm", "numpy", "lm"),
])
def test_batch_from_zero_reaches_scipys_tight_minimum(case, method, backend, ran):
    expr, indep, data, fj, p0 = CASES[case]
    x, Y, true = data(24)
    res = fit_batch(expr, x, Y, p0, method=method, backend=backend, independent=indep,
                    params=ORDER[expr])
    assert (res.method, res.backend) == (ran, backend)
    assert res.success.all(), res.summary()
    assert res.nonfinite == []
    for i in range(len(Y)):
        p_ref, cost_ref = _scipy_tight(fj(x), Y[i], true[i])
        # at the optimum (cost within 1e-6 relative); parameters measured within 7e-5
        # relative / 9e-5 absolute: fit_batch's default tolerances are 1e-8 on the cost
        assert res.cost[i] <= cost_ref * (1 + 1e-6), (i, res.cost[i], cost_ref)
        np.testing.assert_allclose(res.params[i], p_ref, rtol=3e-4, atol=3e-4)


def test_batch_says_which_derivative_is_not_finite_and_where():
    # the wiring through fit_batch: curves stopped at their start (maxiter=0) are explained
    x = np.r_[0.0, np.geomspace(0.01, 100.0, 15)]
    with np.errstate(divide="ignore"):
        Y = np.stack([1.0 / (1.0 + (k / x) ** 1.5) for k in (0.5, 1.0, 2.0)])
    res = fit_batch("top/(1 + (K/x)**n) + bottom", x, Y, [0.0, 1.0, 1.0, 1.0],
                    method="lm", backend="numpy", maxiter=0, independent="x",
                    params=["bottom", "K", "n", "top"])
    assert not res.success.any()
    assert res.nonfinite == [
        "d/d K is not finite at x[0] = 0 for 3 curves (first: curve 0 at bottom=0, K=1, n=1, top=1)",
        "d/d n is not finite at x[0] = 0 for 3 curves (first: curve 0 at bottom=0, K=1, n=1, top=1)",
    ]
    assert res.summary()["nonfinite"] == res.nonfinite


def test_explain_nonfinite_groups_curves_by_parameter_and_point():
    bm = as_batch_model(STRETCHED, params=ORDER[STRETCHED])
    t = np.linspace(0.0, 1.0, 5)
    X = t[None, None, :]
    Y = np.zeros((4, 5))
    W = np.ones((1, 5))
    # beta = 0 at t = 0: d/d beta = -a e^-1 log(0) = inf -- a genuinely infinite derivative
    params = np.array([[1.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 2.0],
                       [1.0, 0.8, 0.0, 1.0], [1.0, 0.0, 0.0, 1.0]])
    success = np.array([False, False, False, True])
    Y[1, 2] = np.nan  # invalid data: not explained
    lines = explain_nonfinite(bm, X, Y, W, params[:1], params, success)
    assert lines == ["d/d beta is not finite at t[0] = 0 for 1 curve "
                     "(first: curve 0 at a=1, beta=0, c=0, tau=1)"]
