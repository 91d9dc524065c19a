"""Sparse and large problems (issue 15): grouped finite differences with ``jac_sparsity``,
sparse and LinearOperator Jacobians used as such, ``tr_solver``/``tr_options`` with SciPy's
meanings, and the iterative certificate. References: SciPy ``least_squares`` at tight
tolerances in the same test, and dense finite differences."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st
from scipy.optimize import least_squares as scipy_least_squares
from scipy.sparse.linalg import LinearOperator

import trustfit
from trustfit.reference.problems import broyden_tridiagonal as broyden
from trustfit.core.events import IterativeCertificate
from trustfit.core.differentiation import finite_difference_jacobian
from trustfit.core.grouped_differences import GroupedDifferences, sparsity_pattern

TIGHT = dict(ftol=1e-15, xtol=1e-15, gtol=1e-15)


class DenseRefusingOperator(LinearOperator):
    """A Jacobian as an operator that raises on any path that would make it dense: a product
    with more than a few columns at once (``J @ I``), ``toarray``, ``todense``, ``__array__``."""

    def __init__(self, J):
        self.J = sp.csr_matrix(J)
        super().__init__(float, J.shape)

    def _matvec(self, v):
        return self.J @ np.ravel(v)

    def _rmatvec(self, v):
        return self.J.T @ np.ravel(v)

    def _matmat(self, X):
        if X.shape[1] > 32:
            raise AssertionError("the operator was densified (matmat with many columns)")
        return self.J @ X

    def _rmatmat(self, X):
        if X.shape[1] > 32:
            raise AssertionError("the operator was densified (rmatmat with many columns)")
        return self.J.T @ X

    def toarray(self):
        raise AssertionError("the operator was densified (toarray)")

    todense = toarray

    def __array__(self, *args, **kwargs):
        raise AssertionError("the operator was densified (__array__)")


# --- grouped finite differences ----------------------------------------------------------------
@pytest.mark.parametrize("method", ["2-point", "3-point", "cs"])
def test_grouped_differences_equal_dense_ones_on_a_banded_problem(method):
    n = 60
    rng = np.random.default_rng(1)
    a = rng.uniform(1, 2, n)

    def fun(x):  # pentadiagonal: each residual depends on x[i-2..i+2]
        f = a * np.sin(x) + x**2
        f[2:] += 0.5 * x[:-2] * x[2:]
        f[1:] -= np.cos(x[:-1])
        f[:-1] += x[1:] ** 3
        f[:-2] += np.exp(0.1 * x[2:])
        return f

    pattern = sp.diags([np.ones(n - k) for k in (2, 1)] + [np.ones(n)]
                       + [np.ones(n - k) for k in (1, 2)], [-2, -1, 0, 1, 2])
    x = rng.uniform(-1, 1, n)
    lb, ub = np.full(n, -np.inf), np.full(n, np.inf)
    grouped = GroupedDifferences(sparsity_pattern(pattern, n, n))
    J, calls = grouped.jacobian(fun, x, fun(x), method, lb, ub)
    J_dense, dense_calls = finite_difference_jacobian(fun, x, fun(x), method, lb, ub)
    assert grouped.n_groups == 5  # bandwidth 5: five column groups
    assert calls == {"2-point": 5, "3-point": 10, "cs": 5}[method]
    assert dense_calls == {"2-point": n, "3-point": 2 * n, "cs": n}[method]
    assert sp.issparse(J) and J.nnz <= pattern.nnz
    np.testing.assert_allclose(J.toarray(), J_dense, rtol=0, atol=1e-12)


def test_grouped_differences_respect_bounds_like_dense_ones():
    n = 30
    fun, _, pattern, _ = broyden(n)
    x = np.linspace(-1.0, 1.0, n)
    lb, ub = np.full(n, -np.inf), x.copy()  # every variable on its upper bound
    ub[::2] = np.inf
    for method in ("2-point", "3-point"):
        J, _ = GroupedDifferences(sparsity_pattern(pattern, n, n)).jacobian(
            fun, x, fun(x), method, lb, ub)
        J_dense, _ = finite_difference_jacobian(fun, x, fun(x), method, lb, ub)
        # off the pattern the dense one-sided formula leaves rounding (-3 f0 + 4 f1 - f2 of
        # unchanged residuals, ~1e-11); the grouped one has exact zeros there
        np.testing.assert_allclose(J.toarray(), J_dense, rtol=0, atol=1e-9)


def test_jac_sparsity_uses_three_evaluations_per_tridiagonal_jacobian():
    fun, jac, pattern, x0 = broyden(1000)
    r = trustfit.least_squares(fun, x0, jac_sparsity=pattern)
    peer = scipy_least_squares(fun, x0, jac=jac, tr_solver="lsmr", **TIGHT)
    assert r.success
    assert sp.issparse(r.jac)
    assert r.nfev_fd == 3 * r.njev  # 3 groups: 3 evaluations per Jacobian, not n = 1000
    np.testing.assert_allclose(r.x, peer.x, rtol=1e-9, atol=1e-12)
    assert r.cost <= 1e-20


# --- sparse and operator Jacobians ------------------------------------------------------------
@pytest.mark.parametrize("method", [None, "trf", "dogleg", "lm"])
def test_sparse_jac_solves_broyden_to_scipys_minimum(method):
    fun, jac, _, x0 = broyden(1000)
    r = trustfit.least_squares(fun, x0, jac=jac, method=method)
    peer = scipy_least_squares(fun, x0, jac=jac, tr_solver="lsmr", **TIGHT)
    assert r.success and sp.issparse(r.jac)
    np.testing.assert_allclose(r.x, peer.x, rtol=1e-9, atol=1e-12)
    assert r.cost <= 1e-20 and peer.cost <= 1e-20


def test_linear_operator_jac_is_used_and_never_densified():
    fun, jac, _, x0 = broyden(1000)
    r = trustfit.least_squares(fun, x0, jac=lambda x: DenseRefusingOperator(jac(x)),
                               x_scale=1.0)
    peer = scipy_least_squares(fun, x0, jac=jac, tr_solver="lsmr", **TIGHT)
    assert r.success
    assert isinstance(r.jac, LinearOperator)
    np.testing.assert_allclose(r.x, peer.x, rtol=1e-9, atol=1e-12)


def test_linear_operator_on_a_nonzero_residual_problem_is_certified_without_densifying():
    J, b, x_true = _overdetermined()
    r = trustfit.least_squares(lambda x: J @ x - b, np.zeros(J.shape[1]),
                               jac=lambda x: DenseRefusingOperator(J), x_scale=1.0)
    peer = scipy_least_squares(lambda x: J @ x - b, np.zeros(J.shape[1]), jac=lambda x: J,
                               tr_solver="lsmr", **TIGHT)
    assert r.success
    assert any(isinstance(e, IterativeCertificate) for e in r.events)
    np.testing.assert_allclose(r.cost, peer.cost, rtol=1e-8)


def _overdetermined(m=3000, n=1000, seed=0):
    """A sparse, well-conditioned linear least-squares problem with a nonzero residual."""
    rng = np.random.default_rng(seed)
    J = sp.random(m, n, density=4.0 / n, random_state=seed, format="csr") + sp.eye(m, n)
    x_true = rng.standard_normal(n)
    return sp.csr_matrix(J), J @ x_true + 0.1 * rng.standard_normal(m), x_true


# --- the certificate and the diagnosis on large problems --------------------------------------
def _exponentials(blocks=400, scale=1.0):
    """``blocks`` independent decays ``a_k exp(-b_k t)``, 6 points each, with noise: a
    block-diagonal Jacobian (2 columns, 6 rows per block) and a nonzero residual."""
    rng = np.random.default_rng(3)
    t = np.linspace(0.0, 2.0, 6)
    a, b = rng.uniform(1, 2, blocks), rng.uniform(0.5, 1.5, blocks)
    y = (a[:, None] * np.exp(-b[:, None] * t) + 0.01 * rng.standard_normal((blocks, 6)))
    rows = np.arange(blocks * 6)

    def fun(p):
        return scale * ((p[0::2, None] * np.exp(-p[1::2, None] * t)) - y).ravel()

    def jac(p):
        e = np.exp(-p[1::2, None] * t)
        da, db = scale * e, scale * (-t * p[0::2, None] * e)
        cols = np.repeat(np.arange(blocks), 6)
        return sp.csr_matrix((np.concatenate([da.ravel(), db.ravel()]),
                              (np.concatenate([rows, rows]),
                               np.concatenate([2 * cols, 2 * cols + 1]))),
                             shape=(6 * blocks, 2 * blocks))

    p0 = np.ravel(np.column_stack([np.ones(blocks), np.ones(blocks)]))
    return fun, jac, p0


def test_certificate_of_a_large_problem_says_it_used_iterative_estimates():
    fun, jac, p0 = _exponentials()
    r = trustfit.least_squares(fun, p0, jac=jac)
    peer = scipy_least_squares(fun, p0, jac=jac, tr_solver="lsmr", **TIGHT)
    assert r.success
    note = [e.note for e in r.events if isinstance(e, IterativeCertificate)]
    assert note and "no dense SVD" in note[0]
    np.testing.assert_allclose(r.cost, peer.cost, rtol=1e-8)
    diagnosis = trustfit.diagnose(r)
    assert "iterative_diagnosis" in diagnosis.codes
    assert not [f for f in diagnosis if f.severity == "error"]


def test_certificate_refuses_a_rank_deficient_sparse_problem():
    fun, jac, p0 = _exponentials(blocks=300)

    def fun3(p):  # a third parameter per problem that enters only as a sum with the first
        return fun(p[:600] + np.pad(p[600:], (0, 300))[:600] * np.tile([1.0, 0.0], 300))

    def jac3(p):
        J = jac(p[:600] + np.pad(p[600:], (0, 300))[:600] * np.tile([1.0, 0.0], 300))
        return sp.hstack([J, J[:, 0::2]], format="csr")

    r = trustfit.least_squares(fun3, np.r_[p0, np.zeros(300)], jac=jac3)
    assert not r.success
    assert r.stop_reason is trustfit.StopReason.DEGENERATE
    assert "ill_conditioned" in trustfit.diagnose(r).codes


@settings(max_examples=6, deadline=None)
@given(st.integers(-60, 60))
def test_iterative_certificate_is_invariant_to_the_scale_of_the_data(power):
    fun, jac, p0 = _exponentials(blocks=100, scale=10.0**power)
    r = trustfit.least_squares(fun, p0, jac=jac)
    assert r.success
    assert any(isinstance(e, IterativeCertificate) for e in r.events)


@settings(max_examples=5, deadline=None)
@given(st.integers(-40, 40), st.integers(-40, 40))
def test_iterative_certificate_is_invariant_to_the_units_of_the_parameters(pa, pb):
    fun, jac, p0 = _exponentials(blocks=100)
    c = np.tile([10.0**pa, 10.0**pb], 100)  # p = c q: amplitudes and rates in other units
    r = trustfit.least_squares(lambda q: fun(c * q), p0 / c,
                               jac=lambda q: jac(c * q) @ sp.diags(c))
    reference = trustfit.least_squares(fun, p0, jac=jac)
    assert r.success and reference.success
    assert any(isinstance(e, IterativeCertificate) for e in r.events)
    np.testing.assert_allclose(r.cost, reference.cost, rtol=1e-9)


# --- arguments ---------------------------------------------------------------------------------
def _call(**kwargs):
    fun, jac, pattern, x0 = broyden(20)
    return trustfit.least_squares(fun, x0, **kwargs)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(tr_solver="cg"), ValueError, "tr_solver"),
    (dict(tr_solver="lsmr", tr_options=[("atol", 1)]), TypeError, "tr_options"),
    (dict(tr_solver="lsmr", tr_options={"tol": 1e-3}), TypeError, "tr_options"),
    (dict(tr_solver="lsmr", tr_options={"atol": -1.0}), ValueError, "tr_options['atol']"),
    (dict(tr_solver="lsmr", tr_options={"maxiter": 0}), ValueError, "tr_options['maxiter']"),
    (dict(tr_solver="lsmr", tr_options={"regularize": "yes"}), TypeError,
     "tr_options['regularize']"),
    (dict(tr_solver="exact", jac_sparsity=np.eye(20)), ValueError,
     "tr_solver='exact' is incompatible with `jac_sparsity`"),
    (dict(jac_sparsity=np.eye(19)), ValueError, "`jac_sparsity` has wrong shape"),
])
def test_bad_sparse_arguments_name_the_argument(kwargs, error, words):
    with pytest.raises(error) as info:
        _call(**kwargs)
    assert words in str(info.value)


def test_exact_trust_region_refuses_a_sparse_jacobian_as_scipy_does():
    fun, jac, _, x0 = broyden(20)
    with pytest.raises(ValueError, match="tr_solver='exact' works only with dense"):
        trustfit.least_squares(fun, x0, jac=jac, tr_solver="exact")
    with pytest.raises(ValueError, match="tr_solver='exact' works only with dense"):
        scipy_least_squares(fun, x0, jac=jac, tr_solver="exact")


def test_x_scale_jac_refuses_a_linear_operator_as_scipy_does():
    fun, jac, _, x0 = broyden(20)
    with pytest.raises(ValueError, match="x_scale='jac' can't be used"):
        trustfit.least_squares(fun, x0, jac=lambda x: DenseRefusingOperator(jac(x)),
                               x_scale="jac")


def test_dense_only_methods_refuse_a_sparse_jacobian():
    fun, jac, _, x0 = broyden(20)
    with pytest.raises(ValueError, match="method='gn' works only with dense"):
        trustfit.least_squares(fun, x0, jac=jac, method="gn")
    with pytest.raises(ValueError, match="method='hybrid' works only with dense"):
        trustfit.least_squares(fun, x0, jac=jac, method="hybrid")
    with pytest.raises(ValueError, match="accel=True .* works only with dense"):
        trustfit.least_squares(fun, x0, jac=jac, method="lm", accel=True)


@pytest.mark.parametrize("options", [{"atol": 1e-10, "btol": 1e-10}, {"maxiter": 5},
                                     {"regularize": False}, {"conlim": 1e6, "damp": 0.0}])
def test_tr_options_reach_lsmr_and_the_fit_still_converges(options):
    fun, jac, pattern, x0 = broyden(200)
    r = trustfit.least_squares(fun, x0, jac_sparsity=pattern, tr_solver="lsmr",
                               tr_options=options)
    peer = scipy_least_squares(fun, x0, jac=jac, tr_solver="lsmr", **TIGHT)
    assert r.success
    np.testing.assert_allclose(r.x, peer.x, rtol=1e-9, atol=1e-12)


def test_lsmr_with_a_dense_jacobian_gives_the_dense_minimum():
    J, b, _ = _overdetermined(m=90, n=30)
    Jd = J.toarray()
    r = trustfit.least_squares(lambda x: Jd @ x - b, np.zeros(30), jac=lambda x: Jd,
                               tr_solver="lsmr")
    dense = trustfit.least_squares(lambda x: Jd @ x - b, np.zeros(30), jac=lambda x: Jd)
    assert r.success and dense.success
    np.testing.assert_allclose(r.cost, dense.cost, rtol=1e-10)


def test_bounds_with_a_sparse_jacobian_match_scipy():
    fun, jac, pattern, x0 = broyden(500)
    ub = np.full(500, np.inf)
    ub[::7] = -0.8  # the unconstrained minimum has x near -0.4 to -0.7: these bind
    lb = np.full(500, -np.inf)
    r = trustfit.least_squares(fun, np.minimum(x0, ub), jac=jac, bounds=(lb, ub))
    peer = scipy_least_squares(fun, np.minimum(x0, ub), jac=jac, bounds=(lb, ub),
                               tr_solver="lsmr", **TIGHT)
    np.testing.assert_allclose(r.cost, peer.cost, rtol=1e-7)
    np.testing.assert_allclose(r.x, peer.x, rtol=1e-6, atol=1e-8)


def test_curve_fit_with_jac_sparsity_gives_scipys_dense_pcov():
    # The covariance densifies a sparse Jacobian of affordable size: the same pcov as SciPy's
    # dense curve_fit at tight tolerances (an independent reference).
    from scipy.optimize import curve_fit as scipy_curve_fit
    t = np.linspace(0, 10, 60)
    y = 3.0 * np.exp(-0.5 * t) + 0.2 + 0.01 * np.sin(7 * t)

    def f(t, a, k, c):
        return a * np.exp(-k * t) + c

    p, C = trustfit.curve_fit(f, t, y, p0=[1, 1, 0], jac_sparsity=np.ones((60, 3)))
    q, D = scipy_curve_fit(f, t, y, p0=[1, 1, 0], method="trf", **TIGHT)
    np.testing.assert_allclose(p, q, rtol=1e-7)
    np.testing.assert_allclose(C, D, rtol=1e-5)


def test_covariance_of_an_operator_jacobian_is_its_dense_one():
    fun, jac, _, x0 = broyden(30)
    r = trustfit.least_squares(fun, x0, jac=lambda x: DenseRefusingOperator(jac(x).toarray()))
    assert isinstance(r.jac, LinearOperator)
    C = trustfit.analysis.uncertainty.covariance(r, absolute_sigma=True)
    J = jac(r.x).toarray()
    np.testing.assert_allclose(C.matrix, np.linalg.inv(J.T @ J), rtol=1e-8, atol=1e-12)


def test_too_large_a_sparse_fit_reports_values_and_why_no_errors(monkeypatch):
    from trustfit.analysis import uncertainty
    fun, jac, _, x0 = broyden(50)
    r = trustfit.least_squares(fun, x0, jac=jac)
    monkeypatch.setattr(uncertainty, "DENSE_COVARIANCE_N", 40)
    with pytest.raises(ValueError, match="50 x 50 Jacobian is a csr_matrix"):
        uncertainty.covariance(r)
    text = r.report()
    assert "Standard errors: none; the covariance of this fit is not formed" in text
    assert f"{'x[0]':<9}  {r.x[0]:>14.7g}" in text
    assert "... 40 more" in text
    assert "not formed" in r._repr_html_()
    assert uncertainty.covariance(r, jac=r.jac.toarray()).rank == 50


def test_multistart_and_rescue_accept_a_sparse_fit():
    fun, jac, _, x0 = broyden(40)
    r = trustfit.least_squares(fun, x0, jac=jac, starts=2)
    peer = scipy_least_squares(fun, x0, jac=jac, tr_solver="lsmr", **TIGHT)
    assert r.success and sp.issparse(r.jac)
    assert r.minima and r.minima[0].cost <= 1e-20
    np.testing.assert_allclose(r.x, peer.x, rtol=1e-9, atol=1e-12)
