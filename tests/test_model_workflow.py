"""lmfit's "Model" chapter, written with trustfit by changing only the import.

Five examples of lmfit's documentation (a Gaussian; Gaussian + line; a fixed parameter; two
prefixed Gaussians with an ``expr`` constraint; weights and ``eval_uncertainty``), on data made
here from the documented formulas with a seeded generator. Each is checked against an
independent reference: SciPy's ``curve_fit`` at tight tolerance started from the true
parameters (values to 1e-6 relative, standard errors to 1e-4 relative), the delta method on
SciPy's covariance for the band. lmfit itself is not used.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special, stats
from scipy.optimize import curve_fit

pytest.importorskip("sympy")

from trustfit import Model  # noqa: E402  (lmfit: from lmfit import Model)
from trustfit.models import Parameters, ModelResult  # noqa: E402

TIGHT = dict(method="lm", ftol=1e-15, xtol=1e-15, gtol=1e-15, maxfev=20000)


def gaussian(x, amp, cen, wid):
    """1-d gaussian: gaussian(x, amp, cen, wid)"""
    return (amp / (np.sqrt(2 * np.pi) * wid)) * np.exp(-(x - cen) ** 2 / (2 * wid ** 2))


def line(x, slope, intercept):
    """a line"""
    return slope * x + intercept


def decay(t, tau, N):
    return N * np.exp(-t / tau)


def _reference(f, x, y, p_true, sigma=None):
    popt, pcov = curve_fit(f, x, y, p0=p_true, sigma=sigma, **TIGHT)
    return popt, np.sqrt(np.diag(pcov)), pcov


def _agree(result, names, popt, perr):
    values = np.array([result.params[n].value for n in names])
    errors = np.array([result.params[n].stderr for n in names])
    np.testing.assert_allclose(values, popt, rtol=1e-6, atol=0)
    np.testing.assert_allclose(errors, perr, rtol=1e-4, atol=0)


def test_example_1_gaussian():
    rng = np.random.default_rng(1)
    x = np.linspace(-10, 10, 101)
    y = gaussian(x, 8.9, 5.66, 0.7) + rng.normal(0, 0.2, x.size)
    gmodel = Model(gaussian)
    assert gmodel.param_names == ["amp", "cen", "wid"]
    assert gmodel.independent_names == ["x"]
    result = gmodel.fit(y, x=x, amp=5, cen=5, wid=1)
    popt, perr, pcov = _reference(gaussian, x, y, [8.9, 5.66, 0.7])
    _agree(result, ["amp", "cen", "wid"], popt, perr)
    assert result.success and result.nvarys == 3 and result.ndata == 101
    chisqr = float(np.sum((y - gaussian(x, *popt)) ** 2))
    assert result.chisqr == pytest.approx(chisqr, rel=1e-10)
    assert result.redchi == pytest.approx(chisqr / 98, rel=1e-10)
    assert result.aic == pytest.approx(101 * np.log(chisqr / 101) + 6, rel=1e-10)
    assert result.bic == pytest.approx(101 * np.log(chisqr / 101) + 3 * np.log(101), rel=1e-10)
    sst = np.sum((y - y.mean()) ** 2)
    assert result.rsquared == pytest.approx(1 - chisqr / sst, rel=1e-10)
    np.testing.assert_allclose(result.best_fit, gaussian(x, *popt), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(result.init_fit, gaussian(x, 5, 5, 1), rtol=1e-14)
    corr = pcov[0, 2] / (perr[0] * perr[2])
    assert result.params["amp"].correl["wid"] == pytest.approx(corr, rel=1e-4)
    report = result.fit_report()
    assert "[[Variables]]" in report and "amp:" in report and "(init = 5)" in report
    assert "C(amp, wid)" in report


def test_example_2_gaussian_plus_line():
    rng = np.random.default_rng(2)
    x = np.linspace(0, 10, 201)
    true = [7.0, 5.3, 0.8, 0.25, 1.2]
    y = gaussian(x, *true[:3]) + line(x, *true[3:]) + rng.normal(0, 0.1, x.size)
    mod = Model(gaussian) + Model(line)
    assert mod.param_names == ["amp", "cen", "wid", "slope", "intercept"]
    pars = mod.make_params(amp=5, cen=5, wid={"value": 1, "min": 0}, slope=0, intercept=1)
    assert pars["wid"].min == 0
    result = mod.fit(y, pars, x=x)

    def both(x, amp, cen, wid, slope, intercept):
        return gaussian(x, amp, cen, wid) + line(x, slope, intercept)

    popt, perr, _ = _reference(both, x, y, true)
    _agree(result, mod.param_names, popt, perr)


def test_example_3_a_fixed_parameter():
    rng = np.random.default_rng(3)
    t = np.linspace(0, 5, 60)
    y = decay(t, 1.3, 10.0) + rng.normal(0, 0.1, t.size)
    mod = Model(decay)
    assert mod.independent_names == ["t"]
    params = mod.make_params(tau=1, N=10)
    params["N"].set(vary=False)
    result = mod.fit(y, params, t=t)
    popt, perr, _ = _reference(lambda t, tau: decay(t, tau, 10.0), t, y, [1.3])
    _agree(result, ["tau"], popt, perr)
    assert result.params["N"].value == 10.0 and result.params["N"].stderr is None
    assert result.nvarys == 1 and result.var_names == ["tau"]


def test_example_4_prefixes_and_a_constraint():
    rng = np.random.default_rng(4)
    x = np.linspace(0, 20, 301)
    y = gaussian(x, 20, 7, 1.1) + gaussian(x, 12, 12, 1.1) + rng.normal(0, 0.15, x.size)
    mod = Model(gaussian, prefix="g1_") + Model(gaussian, prefix="g2_")
    assert mod.param_names == ["g1_amp", "g1_cen", "g1_wid", "g2_amp", "g2_cen", "g2_wid"]
    pars = mod.make_params(g1_amp=15, g1_cen=6.5, g1_wid=1, g2_amp=10, g2_cen=12.5)
    pars["g2_wid"].set(expr="g1_wid")
    result = mod.fit(y, pars, x=x)

    def shared(x, a1, c1, w, a2, c2):
        return gaussian(x, a1, c1, w) + gaussian(x, a2, c2, w)

    popt, perr, _ = _reference(shared, x, y, [20, 7, 1.1, 12, 12])
    _agree(result, ["g1_amp", "g1_cen", "g1_wid", "g2_amp", "g2_cen"], popt, perr)
    assert result.params["g2_wid"].value == result.params["g1_wid"].value
    assert result.params["g2_wid"].stderr == pytest.approx(perr[2], rel=1e-4)
    assert result.nvarys == 5
    parts = result.eval_components(x=x)  # lmfit's: one curve per prefix
    assert list(parts) == ["g1_", "g2_"]
    np.testing.assert_allclose(parts["g1_"], gaussian(x, *popt[:3]), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(parts["g1_"] + parts["g2_"], result.best_fit, rtol=1e-12)


def test_example_5_weights_and_eval_uncertainty():
    rng = np.random.default_rng(5)
    t = np.linspace(0.1, 6, 40)
    dy = 0.05 + 0.05 * t
    y = decay(t, 2.0, 5.0) + rng.normal(0, 1, t.size) * dy
    mod = Model(decay)
    params = mod.make_params(tau=1, N=4)
    result = mod.fit(y, params, t=t, weights=1 / dy)
    popt, perr, pcov = _reference(decay, t, y, [2.0, 5.0], sigma=dy)
    _agree(result, ["tau", "N"], popt, perr)
    np.testing.assert_allclose(result.residual, (decay(t, *popt) - y) / dy, rtol=1e-5,
                               atol=1e-8)
    # the band: delta method on SciPy's covariance, Student t at 3 sigma's probability
    grid = np.linspace(0.1, 6, 7)
    tau, N = popt
    J = np.column_stack([N * grid / tau**2 * np.exp(-grid / tau), np.exp(-grid / tau)])
    q = stats.t.ppf((special.erf(3 / np.sqrt(2)) + 1) / 2, t.size - 2)
    band = q * np.sqrt(np.einsum("ij,jk,ik->i", J, pcov, J))
    np.testing.assert_allclose(result.eval_uncertainty(sigma=3, t=grid), band, rtol=1e-4)
    # sigma= is the same fit as weights=
    again = mod.fit(y, params, t=t, sigma=dy)
    # (to the solver's stopping rule: the polish ends at a 1e-12 relative cost change)
    assert again.params["tau"].value == pytest.approx(result.params["tau"].value, rel=1e-9)


def test_a_product_of_expression_models_has_the_product_rule_jacobian():
    rng = np.random.default_rng(6)
    x = np.linspace(0, 4, 80)
    mod = Model("a*exp(-k*x)", prefix="d_") * Model("1 + b*x")
    assert mod.param_names == ["d_a", "d_k", "b"] and mod.has_jacobian
    y = 3 * np.exp(-0.7 * x) * (1 + 0.4 * x) + rng.normal(0, 0.02, x.size)
    result = mod.fit(y, x=x, d_a=2, d_k=1, b=0)
    popt, perr, _ = _reference(lambda x, a, k, b: a * np.exp(-k * x) * (1 + b * x), x, y,
                               [3, 0.7, 0.4])
    _agree(result, mod.param_names, popt, perr)


def test_expression_constraints_are_checked():
    mod = Model("a*x + b")
    with pytest.raises(ValueError, match="'c', which is not a parameter"):
        mod.make_params(a=1, b={"expr": "2*c"})
    with pytest.raises(ValueError, match="cycle: a -> b -> a"):
        mod.make_params(a={"expr": "b"}, b={"expr": "a"})
    with pytest.raises(ValueError, match="not allowed"):
        mod.make_params(a=1, b={"expr": "__import__('os')"})


def test_fit_arguments_are_checked():
    mod = Model(gaussian)
    x = np.linspace(-3, 3, 20)
    y = gaussian(x, 1, 0, 1)
    with pytest.raises(TypeError, match="independent variable 'x'"):
        mod.fit(y, amp=1, cen=0, wid=1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'width'"):
        mod.fit(y, x=x, amp=1, cen=0, width=1)
    with pytest.raises(ValueError, match=r"no initial value for \['wid'\]"):
        mod.fit(y, x=x, amp=1, cen=0)
    with pytest.raises(TypeError, match="weights .* or sigma, not both"):
        mod.fit(y, x=x, amp=1, cen=0, wid=1, weights=1.0, sigma=1.0)
    with pytest.raises(ValueError, match="least-squares problems only"):
        mod.fit(y, x=x, amp=1, cen=0, wid=1, method="nelder")
    with pytest.raises(ValueError, match="share the parameter name"):
        Model(gaussian) + Model(gaussian)


def test_a_library_model_starts_from_its_guess():
    from trustfit import models

    x = np.linspace(-5, 5, 81)
    y = models.gaussian.eval([2.0, 0.5, 1.2, 0.1], x)
    result = models.gaussian.fit(y, x=x)  # no start given: the data-driven guess
    np.testing.assert_allclose(list(result.params.valuesdict().values()),
                               [2.0, 0.5, 1.2, 0.1], rtol=1e-9, atol=1e-10)


def test_uvars_carry_the_correlations():
    uncertainties = pytest.importorskip("uncertainties")
    rng = np.random.default_rng(7)
    x = np.linspace(-10, 10, 101)
    y = gaussian(x, 8.9, 5.66, 0.7) + rng.normal(0, 0.2, x.size)
    result = Model(gaussian).fit(y, x=x, amp=5, cen=5, wid=1)
    u = result.uvars
    assert isinstance(u["amp"], uncertainties.UFloat)
    _, perr, pcov = _reference(gaussian, x, y, [8.9, 5.66, 0.7])
    assert u["amp"].std_dev == pytest.approx(perr[0], rel=1e-4)
    # var(amp - wid) from the covariance, not from independent errors
    expected = pcov[0, 0] + pcov[2, 2] - 2 * pcov[0, 2]
    assert (u["amp"] - u["wid"]).std_dev ** 2 == pytest.approx(expected, rel=1e-4)


def test_results_as_dict_html_and_dataframe():
    x = np.linspace(-3, 3, 40)
    y = gaussian(x, 1, 0.2, 0.8) + 0.01 * np.cos(7 * x)
    result = Model(gaussian).fit(y, x=x, amp=1, cen=0, wid=1)
    assert isinstance(result, ModelResult)
    d = result.to_dict()
    assert list(d["params"]) == ["amp", "cen", "wid"]
    assert d["params"]["cen"]["value"] == result.params["cen"].value
    assert d["stop_reason"] == result.result.stop_reason.name
    html = result._repr_html_()
    assert "<table" in html and "amp" in html and "converged" in html
    assert "<table" in result.params._repr_html_()
    assert "<table" in result.result._repr_html_()
    assert isinstance(Parameters(), Parameters)
    pd = pytest.importorskip("pandas")
    frame = result.to_dataframe()
    assert list(frame.index) == ["amp", "cen", "wid"]
    assert frame.loc["wid", "stderr"] == result.params["wid"].stderr
    table = pd.DataFrame({"t": x, "signal": y})
    again = Model(gaussian).fit("signal", x="t", frame=table, amp=1, cen=0, wid=1)
    assert again.params["cen"].value == result.params["cen"].value
    series = Model(gaussian).fit(table["signal"], x=table["t"], amp=1, cen=0, wid=1)
    assert series.params["cen"].value == result.params["cen"].value


def test_notebook_tables_of_a_batch_and_a_diagnosis():
    import trustfit

    t = np.arange(0.0, 21.0, 2.0)
    y = np.array([0, 3.55, 3.82, 2.98, 2.32, 1.48, 1.02, 0.81, 0.41, 0.42, 0.15])
    r = trustfit.least_squares(lambda p: p[2] * np.exp(p[0] * t) + p[3] * np.exp(p[1] * t) - y,
                               [0, 0, 0, 0], rescue=False)
    html = r.diagnosis._repr_html_()
    assert "exchangeable_parameters" in html and "<ul" in html
    assert "DEGENERATE" in r._repr_html_() and "<script" not in r._repr_html_()
    tt = np.linspace(0, 4, 16)
    rng = np.random.default_rng(3)
    Y = 2 * np.exp(-np.outer(rng.uniform(0.5, 1.5, 40), tt)) + 0.01 * rng.normal(size=(40, 16))
    b = trustfit.fit_batch("a*exp(-k*t)", tt, Y, {"a": 1.0, "k": 1.0}, backend="numpy")
    html = b._repr_html_()
    counts = b.summary()["stop_reason"]
    for name, count in counts.items():
        assert f"<code>{name}</code>" in html and f">{count}</td>" in html
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "data:image/png;base64," not in html  # the histogram needs matplotlib
    else:
        assert "data:image/png;base64," in html


def test_small_lmfit_habits():
    assert Model("a*exp(-b*x)").independent_names == ["x"]  # x when there is no t
    assert Model("a*exp(-b*t)", independent_vars=["t"]).param_names == ["a", "b"]
    p = Parameters()
    p.add("amp", 10, min=0, vary=False)
    assert p["amp"].min == 0 and not p["amp"].vary
    with pytest.raises(TypeError, match="pass vary=... by keyword"):
        p.add("cen", 1.0, False)  # lmfit's positional order (value, vary, ...) differs

    def peak(x, amp, cen=0.5, wid=1.0, flag=None):
        return amp * np.exp(-(x - cen) ** 2 / wid)

    m = Model(peak)
    assert m.param_names == ["amp", "cen", "wid"]  # flag=None is not a parameter
    assert m.make_params(amp=2)["cen"].value == 0.5  # numeric defaults are initial values


@settings(max_examples=12, deadline=None)
@given(k=st.integers(-150, 150))
def test_a_model_fit_is_the_same_at_every_scale_of_the_data(k):
    # y and sigma times 10**k: amplitude and its error scale by 10**k, the centre and width
    # stay, and the fit is certified alike (which convergence test fires first at the
    # rounding floor, COST or ROUNDING, may differ with the rounding of a non-power-of-two)
    x = np.linspace(-4, 4, 41)
    y = gaussian(x, 3.0, 0.3, 0.9) + 0.02 * np.cos(5 * x)
    mod = Model(gaussian)
    base = mod.fit(y, x=x, sigma=0.02, amp=2, cen=0, wid=1)
    s = 10.0 ** k
    scaled = mod.fit(y * s, x=x, sigma=0.02 * s, amp=2 * s, cen=0, wid=1)
    assert base.success and scaled.success
    assert scaled.result.stop_reason.converged and not scaled.diagnosis.codes
    assert scaled.params["amp"].value == pytest.approx(3.0 * s, rel=1e-2)
    for name, factor in (("amp", s), ("cen", 1.0), ("wid", 1.0)):
        assert scaled.params[name].value == pytest.approx(base.params[name].value * factor,
                                                          rel=1e-9)
        assert scaled.params[name].stderr == pytest.approx(base.params[name].stderr * factor,
                                                           rel=1e-6)
    assert scaled.redchi == pytest.approx(base.redchi, rel=1e-9)


def test_fit_batch_columns_and_list_p0_follow_the_written_order():
    import sympy

    from trustfit import fit_batch

    t = np.linspace(0, 4, 20)
    Y = np.stack([2 * np.exp(-k * t) + 0.3 for k in (0.5, 1.0, 1.5)])
    r = fit_batch("a*exp(-k*t) + c", t, Y, [1.0, 1.0, 0.0], backend="numpy")
    assert r.param_names == ["a", "k", "c"]  # was ['a', 'c', 'k'] (sorted)
    np.testing.assert_allclose(r.params[1], [2.0, 1.0, 0.3], rtol=1e-7)
    a, k, c, tt = sympy.symbols("a k c t")
    assert fit_batch(a * sympy.exp(-k * tt) + c, t, Y, [1.0, 1.0, 0.0],
                     backend="numpy").param_names == ["a", "k", "c"]  # as sympy prints it
    both = Model("a*exp(-k*t)") + Model("c + 0*t")  # a composite of expressions compiles too
    r2 = fit_batch(both, t, Y, [1.0, 1.0, 0.0], backend="numpy")
    np.testing.assert_allclose(r2.params, r.params, rtol=1e-9)


def test_conf_interval_of_a_linear_model_is_the_t_interval():
    # for a model linear in its parameters the profile-likelihood interval is exactly the
    # Student-t interval value +- t(0.975, m - n) * stderr (Bates & Watts 1988, sec. 6.1)
    x = np.linspace(0, 5, 12)
    y = 1.5 + 0.7 * x + 0.05 * np.sin(3 * x)
    res = Model("a + b*x").fit(y, x=x, a=0, b=0)
    ci = res.conf_interval(0.95)
    q = stats.t.ppf(0.975, x.size - 2)
    for n in ("a", "b"):
        p = res.params[n]
        assert ci[n][0] == pytest.approx(p.value - q * p.stderr, rel=1e-6)
        assert ci[n][1] == pytest.approx(p.value + q * p.stderr, rel=1e-6)


def test_bad_data_is_named_at_the_boundary(monkeypatch):
    m = Model("a*exp(-k*x)")
    x = np.linspace(0, 1, 10)
    y = np.exp(-x)
    y[3] = np.nan
    with pytest.raises(ValueError, match=r"data has 1 non-finite value\(s\) \(first at index 3"):
        m.fit(y, x=x, a=1, k=1)
    with pytest.raises(ValueError, match="x has 1 non-finite"):
        m.fit(np.exp(-x), x=np.r_[x[:9], np.inf], a=1, k=1)
    with pytest.raises(TypeError, match="pass the table as frame="):
        m.fit("y", x=x, a=1, k=1)
    with pytest.raises(ValueError, match="no such column"):
        m.fit("y", x="x", frame={"x": x, "signal": y}, a=1, k=1)
    res = m.fit("signal", x="x", frame={"x": x, "signal": np.exp(-x)}, a=1, k=2)
    assert res.params["k"].value == pytest.approx(1.0, rel=1e-10)
    monkeypatch.setitem(__import__("sys").modules, "pandas", None)
    with pytest.raises(ImportError, match=r"trustfit\[frames\]"):
        res.to_dataframe()
