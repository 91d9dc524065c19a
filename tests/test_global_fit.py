"""trustfit.fit_global (issue 19) against an independent reference: SciPy's least_squares on
the hand-concatenated problem (exact Jacobian, tolerances 1e-15, started at the true
parameters), its covariance ``inv(J^T J) chi2 / (m - n)``; and properties that must hold."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import least_squares

import trustfit
from trustfit.kinds import global_certify

EXPR = "a*exp(-t/tau1) + c*exp(-t/tau2)"
SHARED = ["tau1", "tau2"]
TRUE_SHARED = (1.7, 0.3)


def model(t, a, c, tau1, tau2):
    return a * np.exp(-t / tau1) + c * np.exp(-t / tau2)


def model_jac(t, a, c, tau1, tau2):
    e1, e2 = np.exp(-t / tau1), np.exp(-t / tau2)
    return np.column_stack([e1, e2, a * e1 * t / tau1**2, c * e2 * t / tau2**2])


def make_sets(K=5, seed=0, noise=0.01):
    """K decays of different lengths and grids, amplitudes per data set."""
    rng = np.random.default_rng(seed)
    sets, truth = [], []
    for k in range(K):
        t = np.sort(rng.uniform(0, 5 + k, 25 + 4 * k))
        a, c = 1.0 + k, 0.5 + 0.2 * k
        y = model(t, a, c, *TRUE_SHARED) + noise * rng.standard_normal(t.size)
        sigma = noise * (1 + 0.5 * rng.random(t.size))
        sets.append((t, y, sigma))
        truth.append((a, c))
    return sets, truth


def scipy_reference(sets, truth):
    """least_squares on the concatenated residuals: theta = [tau1, tau2, a0, c0, a1, ...]."""
    K = len(sets)
    n = 2 + 2 * K

    def resid(th):
        return np.concatenate([(model(t, *th[2 + 2 * k:4 + 2 * k], *th[:2]) - y) / s
                               for k, (t, y, s) in enumerate(sets)])

    def jac(th):
        J = np.zeros((sum(len(t) for t, _, _ in sets), n))
        row = 0
        for k, (t, _, s) in enumerate(sets):
            Jk = model_jac(t, *th[2 + 2 * k:4 + 2 * k], *th[:2]) / s[:, None]
            J[row:row + t.size, 2 + 2 * k:4 + 2 * k] = Jk[:, :2]
            J[row:row + t.size, :2] = Jk[:, 2:]
            row += t.size
        return J

    x0 = np.concatenate([TRUE_SHARED, np.ravel(truth)])
    ref = least_squares(resid, x0, jac=jac, xtol=1e-15, ftol=1e-15, gtol=1e-15)
    J = ref.jac
    cov = np.linalg.inv(J.T @ J) * 2 * ref.cost / (J.shape[0] - n)
    return ref.x, np.sqrt(np.diag(cov)), cov


def p0_for(truth):
    return {"tau1": 1.0, "tau2": 0.2, "a": [a for a, _ in truth], "c": 1.0}


@pytest.mark.parametrize("kind", ["expression", "callable"])
def test_matches_scipy_on_the_concatenated_problem(kind):
    sets, truth = make_sets()
    ref_x, ref_se, ref_cov = scipy_reference(sets, truth)
    m = EXPR if kind == "expression" else model
    r = trustfit.fit_global(m, sets, shared=SHARED, p0=p0_for(truth))
    assert r.success, r.message
    assert r.shared_names == ("tau1", "tau2")
    # theta order: shared first, then (a, c) per data set -- the reference's order
    rtol_x, rtol_se = (1e-8, 1e-6) if kind == "expression" else (1e-6, 1e-4)
    np.testing.assert_allclose(r.x, ref_x, rtol=rtol_x)
    np.testing.assert_allclose(r.stderr, ref_se, rtol=rtol_se)
    np.testing.assert_allclose(r.full_covariance(), ref_cov, rtol=rtol_se,
                               atol=rtol_se * np.max(np.abs(ref_cov)))
    np.testing.assert_allclose(r.shared_stderr, ref_se[:2], rtol=rtol_se)
    d = np.sqrt(np.diag(ref_cov[:2, :2]))
    assert r.shared_correl[0, 1] == pytest.approx(ref_cov[0, 1] / (d[0] * d[1]), rel=1e-5)
    assert r.local[3]["a"] == pytest.approx(ref_x[2 + 6], rel=rtol_x)
    t2 = sets[2][0]
    np.testing.assert_allclose(r.best_fit[2], model(t2, *ref_x[6:8], *ref_x[:2]), rtol=1e-7)
    np.testing.assert_allclose(r.evaluate(2, t2), r.best_fit[2], rtol=1e-12)
    # chi-square per data set adds up; the degrees of freedom per data set add to m - n
    assert r.chisqr == pytest.approx(float(np.sum(r.chisqr_sets)), rel=1e-12)
    assert float(np.sum(r.nu_sets)) == pytest.approx(r.nfree, rel=1e-9)
    assert r.nfree == sum(len(t) for t, _, _ in sets) - (2 + 2 * len(sets))
    assert r.redchi == pytest.approx(r.chisqr / r.nfree)


def test_model_method_mapping_datasets_and_per_set_sigma_argument():
    sets, truth = make_sets(K=3, seed=1)
    ref_x, ref_se, _ = scipy_reference(sets, truth)
    named = {f"s{k}": (t, y) for k, (t, y, _) in enumerate(sets)}
    sigma = {f"s{k}": s for k, (_, _, s) in enumerate(sets)}
    p0 = {"tau1": 1.0, "tau2": 0.2, "a": {f"s{k}": a for k, (a, _) in enumerate(truth)},
          "c": 1.0}
    r = trustfit.Model(EXPR).fit_global(named, shared=SHARED, p0=p0, sigma=sigma)
    assert r.success
    assert r.names == ("s0", "s1", "s2")
    np.testing.assert_allclose(r.x, ref_x, rtol=1e-8)
    np.testing.assert_allclose(r.stderr, ref_se, rtol=1e-6)
    assert r.params("s1") == {"tau1": r.x[0], "tau2": r.x[1], "a": r.x[4], "c": r.x[5]}
    frame = r.to_dataframe()
    assert list(frame.index) == ["s0", "s1", "s2"]
    assert frame.loc["s2", "a_stderr"] == pytest.approx(ref_se[6], rel=1e-6)


def test_several_models_share_parameters_by_name():
    """Data set 0 sees only the slow decay, the others both: tau1 shared by all."""
    rng = np.random.default_rng(3)
    t0 = np.linspace(0, 8, 40)
    y0 = 2.0 * np.exp(-t0 / 1.7) + 0.01 * rng.standard_normal(t0.size)
    sets, truth = make_sets(K=3, seed=4)
    data = [(t0, y0, np.full(t0.size, 0.01))] + sets
    models = ["b*exp(-t/tau1)"] + [EXPR] * 3
    r = trustfit.fit_global(models, data, shared=SHARED,
                            p0={"tau1": 1.0, "tau2": 0.2, "a": 1.0, "c": 1.0, "b": 1.0})
    assert r.success
    assert r.local_names[0] == ("b",) and r.local_names[1] == ("a", "c")

    def resid(th):
        out = [(th[2] * np.exp(-t0 / th[0]) - y0) / 0.01]
        for k, (t, y, s) in enumerate(sets):
            out.append((model(t, *th[3 + 2 * k:5 + 2 * k], th[0], th[1]) - y) / s)
        return np.concatenate(out)

    ref = least_squares(resid, r.x * (1 + 1e-4), xtol=1e-15, ftol=1e-15, gtol=1e-15,
                        method="lm")
    np.testing.assert_allclose(r.x, ref.x, rtol=1e-6)


def test_bounds_hold_a_parameter_at_its_bound():
    sets, truth = make_sets(K=3, seed=5)
    r = trustfit.fit_global(EXPR, sets, shared=SHARED, p0=p0_for(truth),
                            bounds={"tau1": (0.5, 1.6)})
    assert r.shared["tau1"] == 1.6  # the optimum (1.7) lies beyond it
    assert r.success, r.message

    def resid(th):
        return np.concatenate([(model(t, *th[2 + 2 * k:4 + 2 * k], *th[:2]) - y) / s
                               for k, (t, y, s) in enumerate(sets)])

    lb = np.full(r.x.size, -np.inf)
    ub = np.full(r.x.size, np.inf)
    lb[0], ub[0] = 0.5, 1.6
    ref = least_squares(resid, np.clip(r.x * (1 + 1e-3), lb, ub), bounds=(lb, ub),
                        xtol=1e-15, ftol=1e-15, gtol=1e-15)
    np.testing.assert_allclose(r.x, ref.x, rtol=1e-7)


def test_no_shared_parameters_and_only_shared_parameters():
    sets, truth = make_sets(K=3, seed=6)
    alone = trustfit.fit_global(EXPR, sets, shared=[], p0={"tau1": 1.5, "tau2": 0.3,
                                                           "a": 1.0, "c": 1.0})
    for k, (t, y, s) in enumerate(sets):
        own = trustfit.curve_fit(model, t, y, p0=[1.0, 1.0, 1.5, 0.3], sigma=s,
                                 absolute_sigma=True)[0]
        fitted = alone.local[k]
        np.testing.assert_allclose([fitted[p] for p in ("a", "c", "tau1", "tau2")], own,
                                   rtol=1e-7)
    everything = trustfit.fit_global(EXPR, sets[:1] * 2, shared=["a", "c", "tau1", "tau2"],
                                     p0={"tau1": 1.5, "tau2": 0.3, "a": 1.0, "c": 1.0})
    assert everything.local_names == ((), ())
    own = trustfit.curve_fit(model, sets[0][0], sets[0][1], p0=[1.0, 1.0, 1.5, 0.3],
                             sigma=sets[0][2])[0]
    np.testing.assert_allclose([everything.shared[p] for p in ("a", "c", "tau1", "tau2")],
                               own, rtol=1e-7)


def test_lanczos_condition_number_equals_the_dense_one(monkeypatch):
    sets, truth = make_sets(K=4, seed=7)
    r = trustfit.fit_global(EXPR, sets, shared=SHARED, p0=p0_for(truth))
    from trustfit.faces import global_args as args
    from trustfit.kinds.global_linalg import Linearization
    from trustfit.kinds.global_problem import GlobalProblem
    from trustfit.models.global_fit import group_model

    gm = group_model(trustfit.Model(EXPR))
    sets_ = args.datasets(sets, None)
    lay = args.layout(SHARED, [gm], [0] * len(sets))
    problem = GlobalProblem([gm], args.build_groups(sets_, [gm], [0] * len(sets), lay), 2,
                            lay.n, len(sets))
    lin = Linearization(problem, r.x, problem.residuals(r.x), 0)
    held = np.zeros(lay.n, dtype=bool)
    _, elim = lin.gauss_newton(1e-16, held)
    c = lin.column_norms()
    dense = global_certify.condition(lin, elim, c)
    monkeypatch.setattr(global_certify, "DENSE_LIMIT", 0)
    iterative = global_certify.condition(lin, elim, c)
    assert iterative == pytest.approx(dense, rel=1e-6)
    assert 1.0 < dense < global_certify.CONDITION_LIMIT


def test_plot_grid():
    plt = pytest.importorskip("matplotlib.pyplot")
    sets, truth = make_sets(K=5, seed=8)
    r = trustfit.fit_global(EXPR, sets, shared=SHARED, p0=p0_for(truth))
    fig = trustfit.plots.plot_global(r, cols=2)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 5
    title = fig._suptitle.get_text()
    assert f"tau1 = {r.shared['tau1']:.5g} ± {r.shared_stderr[0]:.2g}" in title
    assert "certified" in title
    with pytest.raises(ValueError, match="datasets names"):
        trustfit.plots.plot_global(r, datasets=[17])
    plt.close("all")


def test_two_independent_variables_expression_and_callable_agree_with_scipy():
    rng = np.random.default_rng(11)
    sets = []
    for k in range(4):
        x, y = rng.uniform(0, 2, 40), rng.uniform(0, 2, 40)
        z = (1 + k) * np.exp(-(x**2 + 0.5 * y**2) / 0.7) + 0.1 * k
        sets.append((np.vstack([x, y]), z + 0.001 * rng.standard_normal(40), 0.001))

    def f(x, a, b, w, c):
        return a * np.exp(-(x[0] ** 2 + b * x[1] ** 2) / w) + c

    p0 = {"a": 1, "b": 1, "w": 1, "c": 0}
    expr = trustfit.Model("a*exp(-(x**2 + b*y**2)/w) + c", independent=["x", "y"])
    r = expr.fit_global(sets, shared=["b", "w"], p0=p0)
    r2 = trustfit.fit_global(f, sets, shared=["b", "w"], p0=p0)
    assert r.success and r2.success

    def resid(th):
        return np.concatenate([(f(X, th[2 + 2 * k], th[0], th[1], th[3 + 2 * k]) - z) / s
                               for k, (X, z, s) in enumerate(sets)])

    ref = least_squares(resid, r.x * (1 + 1e-4), xtol=1e-15, ftol=1e-15, gtol=1e-15,
                        method="lm")
    np.testing.assert_allclose(r.x, ref.x, rtol=1e-7)
    np.testing.assert_allclose(r2.x, ref.x, rtol=1e-7)
    # a callable Model (finite differences), called per data set
    t = np.linspace(0, 5, 30)
    cm = trustfit.Model(lambda t, a, tau: a * np.exp(-t / tau))
    r3 = cm.fit_global([(t, 2 * np.exp(-t / 1.3)), (t, 3 * np.exp(-t / 1.3))],
                       shared=["tau"], p0={"a": 1, "tau": 1})
    assert r3.success and r3.jac_method == "5-point"
    assert r3.shared["tau"] == pytest.approx(1.3, rel=1e-9)  # noise-free: the truth
