"""Expression models, Parameters, callables and the built-in library."""

import pickle
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sympy")

from trustfit import models  # noqa: E402
from trustfit.models import FitProblem, Model, Parameter, Parameters  # noqa: E402
from trustfit.models.expression import natural_key  # noqa: E402

TEXTBOOK = "x3*exp(x1*t) + x4*exp(x2*t)"
T = np.arange(0.0, 21.0, 2.0)
Y = np.array([0, 3.55, 3.82, 2.98, 2.32, 1.48, 1.02, 0.81, 0.41, 0.42, 0.15])


def textbook_ref(p, t):
    """The textbook model written by hand in numpy (complex-safe)."""
    x1, x2, x3, x4 = p
    return x3 * np.exp(x1 * t) + x4 * np.exp(x2 * t)


def complex_step_jacobian(f, p, t, h=1e-30):
    p = np.asarray(p, dtype=complex)
    cols = []
    for j in range(len(p)):
        pj = p.copy()
        pj[j] += 1j * h
        cols.append(f(pj, t).imag / h)
    return np.column_stack(cols)


def central_jacobian(model, p, x, rel=1e-6):
    p = np.asarray(p, dtype=float)
    cols = []
    for j in range(len(p)):
        h = rel * max(abs(p[j]), 1.0)
        up, dn = p.copy(), p.copy()
        up[j] += h
        dn[j] -= h
        cols.append((model.eval(up, x) - model.eval(dn, x)) / (2 * h))
    return np.column_stack(cols)


# -- the textbook model ------------------------------------------------------------------
@pytest.fixture(scope="module")
def textbook():
    # the textbook's vector order (x1, x2, x3, x4), chosen explicitly: the written order
    # of this expression is x3, x1, x4, x2
    return Model(TEXTBOOK, params=["x1", "x2", "x3", "x4"])


def test_textbook_parameter_order(textbook):
    assert Model(TEXTBOOK).param_names == ["x3", "x1", "x4", "x2"]  # as written (lmfit's)
    assert textbook.param_names == ["x1", "x2", "x3", "x4"]
    assert textbook.independent_names == ["t"]
    assert [str(s) for s in textbook.param_symbols] == ["x1", "x2", "x3", "x4"]
    assert len(textbook.jacobian_exprs) == 4


def test_parameters_in_written_order():
    assert Model("a*exp(-k*t) + c").param_names == ["a", "k", "c"]
    m = Model("x10*t + x2 + x1*t**2 + b")
    assert m.param_names == ["x10", "x2", "x1", "b"]
    assert Model("c + b*t + a*t**2 + b*a").param_names == ["c", "b", "a"]  # first use counts
    assert sorted(["x10", "x2", "X1", "x1"], key=natural_key) == ["X1", "x1", "x2", "x10"]


def test_textbook_eval_hand_values(textbook):
    p = [-1.0, 1.0, -10.0, 10.0]
    f = textbook.eval(p, [0.0, 2.0])
    assert f[0] == pytest.approx(0.0, abs=1e-12)
    assert f[1] == pytest.approx(10 * (np.exp(2) - np.exp(-2)), rel=1e-14)
    assert f[1] == pytest.approx(72.53720815694038, rel=1e-13)  # 20*sinh(2)


def test_textbook_jacobian_hand_values(textbook):
    p = [-1.0, 1.0, -10.0, 10.0]
    jac = textbook.jacobian(p, [2.0])
    e2, em2 = np.exp(2.0), np.exp(-2.0)
    np.testing.assert_allclose(jac[0], [-10 * 2 * em2, 10 * 2 * e2, em2, e2], rtol=1e-14)


@pytest.mark.parametrize("p", [
    [-1.0, 1.0, -10.0, 10.0],
    [-0.2, -0.5, 4.0, -3.0],
    [-0.1055, -0.1344, -35.0, 35.0],  # near the textbook solution, nearly collinear columns
])
def test_textbook_jacobian_matches_complex_step_and_central_differences(textbook, p):
    jac = textbook.jacobian(p, T)
    assert jac.shape == (len(T), 4)
    np.testing.assert_allclose(jac, complex_step_jacobian(textbook_ref, p, T), rtol=1e-13,
                               atol=1e-13)
    # central differences lose ~eps*|f|/h to rounding where f is large (e^20 here)
    scale = np.max(np.abs(textbook.eval(p, T)))
    np.testing.assert_allclose(jac, central_jacobian(textbook, p, T), rtol=1e-6,
                               atol=1e-6 + 1e-9 * scale)
    np.testing.assert_allclose(textbook.eval(p, T), textbook_ref(np.array(p), T), rtol=1e-14)


def test_residuals_and_their_jacobian(textbook):
    p = [-0.2, -0.5, 4.0, -3.0]
    r = textbook.residuals(p, T, Y)
    np.testing.assert_allclose(r, textbook_ref(np.array(p), T) - Y, rtol=1e-14)
    sigma = np.linspace(0.5, 2.0, len(T))
    np.testing.assert_allclose(textbook.residuals(p, T, Y, sigma), r / sigma, rtol=1e-14)
    np.testing.assert_allclose(textbook.residual_jacobian(p, T, Y, sigma),
                               textbook.jacobian(p, T) / sigma[:, None], rtol=1e-14)
    np.testing.assert_allclose(textbook.residuals(p, T, Y, 2.0), r / 2.0, rtol=1e-14)


@pytest.mark.parametrize("sigma,fragment", [
    (0.0, "positive"),
    (-1.0, "positive"),
    (np.array([1.0, np.nan] + [1.0] * 9), "positive and finite"),
    (np.ones(3), "shape"),
])
def test_bad_sigma_is_refused(textbook, sigma, fragment):
    with pytest.raises(ValueError, match=fragment):
        textbook.residuals([-1, 1, -10, 10], T, Y, sigma)


def test_bad_params_and_data_are_refused(textbook):
    with pytest.raises(ValueError, match="one value per parameter"):
        textbook.eval([1.0, 2.0], T)
    with pytest.raises(ValueError, match=r"missing values for \['x4'\]"):
        textbook.eval({"x1": 1, "x2": 1, "x3": 1}, T)
    with pytest.raises(ValueError, match="y must have one value per point"):
        textbook.residuals([-1, 1, -10, 10], T, Y[:-1])
    with pytest.raises(ValueError, match="1-D"):
        textbook.eval([-1, 1, -10, 10], np.ones((2, 3)))


def test_params_by_name_and_callable_form(textbook):
    p = {"x4": 10.0, "x3": -10.0, "x2": 1.0, "x1": -1.0}
    np.testing.assert_array_equal(textbook.eval(p, T), textbook.eval([-1, 1, -10, 10], T))
    np.testing.assert_array_equal(textbook(T, -1, 1, -10, 10), textbook.eval(p, T))
    params = textbook.make_params(x1=-1, x2=1, x3=-10, x4=10)
    np.testing.assert_array_equal(textbook.eval(params, T), textbook.eval(p, T))


def test_constant_derivatives_broadcast_to_full_length():
    m = Model("a + b*t")
    jac = m.jacobian([1.0, 2.0], np.arange(5.0))
    np.testing.assert_array_equal(jac, np.column_stack([np.ones(5), np.arange(5.0)]))
    m = Model("a + 0*t")  # value constant in t as well
    np.testing.assert_array_equal(m.eval([3.0], np.arange(4.0)), [3.0] * 4)


def test_power_caret_has_power_precedence():
    m = Model("a + b*t^2", params=["a", "b"])
    np.testing.assert_allclose(m.eval([1.0, 2.0], [3.0]), [1.0 + 2.0 * 9.0])
    m = Model("-t^2 + a")
    np.testing.assert_allclose(m.eval([0.0], [3.0]), [-9.0])


def test_functions_and_constants_evaluate_like_numpy():
    from scipy.special import erf

    m = Model("a*erf(t) + log10(t) + sqrt(t)*e + pi*abs(t - 3)")
    t = np.array([0.5, 1.0, 4.0])
    np.testing.assert_allclose(m.eval([2.0], t),
                               2 * erf(t) + np.log10(t) + np.sqrt(t) * np.e + np.pi * abs(t - 3),
                               rtol=1e-14)


def test_several_independent_variables():
    m = Model("a*x + b*y^2 + c", independent=("x", "y"))
    assert m.param_names == ["a", "b", "c"]
    x = np.array([1.0, 2.0, 3.0])
    y = np.array([0.5, 1.0, 2.0])
    np.testing.assert_allclose(m.eval([1.0, 2.0, 3.0], [x, y]), x + 2 * y**2 + 3)
    np.testing.assert_allclose(m.jacobian([1.0, 2.0, 3.0], np.vstack([x, y])),
                               np.column_stack([x, y**2, np.ones(3)]))
    with pytest.raises(ValueError, match="must hold 2 arrays"):
        m.eval([1, 2, 3], [x])


def test_quiet_numerics():
    m = Model("log(a*t)")  # warnings are errors in this suite: none may escape
    f = m.eval([-1.0], [1.0, 2.0])
    assert np.all(np.isnan(f))
    assert np.all(np.isfinite(m.jacobian([-1.0], [1.0])))


def test_param_order_can_be_chosen_and_is_checked():
    m = Model("a*exp(-b*t) + c", params=["c", "b", "a"])
    assert m.param_names == ["c", "b", "a"]
    with pytest.raises(ValueError, match=r"missing \['c'\], not in the expression \['d'\]"):
        Model("a*exp(-b*t) + c", params=["a", "b", "d"])
    with pytest.raises(ValueError, match="given twice"):
        Model("a*t + b", params=["a", "a", "b"])


def test_independent_variable_must_appear():
    with pytest.raises(ValueError,
                       match=r"independent variable 't' does not appear.*\['a', 'b', 'y'\]"):
        Model("a*exp(-b*y)")
    with pytest.raises(ValueError, match="no parameters"):
        Model("2*t")
    with pytest.raises(ValueError, match="reserved"):
        Model("a*t", independent="pi")


def test_constant_overflow_is_refused_not_computed():
    with pytest.raises(ValueError, match="overflows"):
        Model("a*t + 9**9**9")
    assert Model("a*t**2 + 2**10").eval([1.0], [1.0])[0] == 1025.0


def test_repr_shows_formula_and_parameters(textbook):
    assert repr(textbook) == ("Model('x3*exp(x1*t) + x4*exp(x2*t)', independent='t', "
                              "params=['x1', 'x2', 'x3', 'x4'])")


def test_pickle_round_trip(textbook):
    p = [-0.2, -0.5, 4.0, -3.0]
    clone = pickle.loads(pickle.dumps(textbook))
    np.testing.assert_array_equal(clone.jacobian(p, T), textbook.jacobian(p, T))


def test_importing_trustfit_does_not_import_sympy():
    code = ("import sys, trustfit, trustfit.models; "
            "from trustfit.models import Model, Parameters; "
            "print('sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# -- Parameters ----------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,fragment", [
    (dict(min=1.0, max=1.0), "min=1.0 must be less than max=1.0"),
    (dict(min=2.0, max=1.0), "must be less than"),
    (dict(value=5.0, max=1.0), "value=5.0 is outside its bounds"),
    (dict(value=-1.0, min=0.0), "min <= value <= max"),
    (dict(value=np.nan), "finite"),
    (dict(value=np.inf), "finite"),
    (dict(min=np.nan), "not NaN"),
    (dict(value="abc"), "real number"),
    (dict(vary="yes"), "vary must be True or False"),
])
def test_parameter_bounds_validation(kwargs, fragment):
    with pytest.raises(ValueError, match="parameter 'k'") as info:
        Parameter("k", **kwargs)
    assert fragment in str(info.value)


def test_parameter_name_validation():
    with pytest.raises(ValueError, match="not valid"):
        Parameter("__class__")
    with pytest.raises(ValueError, match="not valid"):
        Parameter("1x")


def test_parameters_to_arrays_and_back():
    ps = Parameters([Parameter("a", 1.0, min=0.0), Parameter("b", 2.0, vary=False),
                     Parameter("c", 3.0, max=10.0)])
    x0, lo, hi = ps.to_arrays()
    np.testing.assert_array_equal(x0, [1.0, 3.0])
    np.testing.assert_array_equal(lo, [0.0, -np.inf])
    np.testing.assert_array_equal(hi, [np.inf, 10.0])
    assert ps.varying == ["a", "c"]
    np.testing.assert_array_equal(ps.full([5.0, 6.0]), [5.0, 2.0, 6.0])
    new = ps.updated([5.0, 6.0])
    assert new.valuesdict() == {"a": 5.0, "b": 2.0, "c": 6.0}
    assert ps["a"].value == 1.0  # the original is untouched
    with pytest.raises(ValueError, match="one value per varying parameter"):
        ps.full([1.0])


def test_parameters_need_values_before_a_vector_is_made():
    ps = Parameters({"a": 1.0, "b": None})
    with pytest.raises(ValueError, match="parameter 'b' has no value"):
        ps.to_arrays()
    ps["a"].value = 7.0
    ps["a"].max = 5.0
    with pytest.raises(ValueError, match="outside its bounds"):
        ps.to_arrays()
    with pytest.raises(KeyError, match="no parameter 'z'"):
        ps["z"]


def test_make_params(textbook):
    ps = textbook.make_params(x1=-1, x2={"value": 1.0, "min": 0.0}, x3=Parameter("x3", -10.0),
                              x4=10)
    assert list(ps) == ["x1", "x2", "x3", "x4"]
    assert ps["x2"].min == 0.0 and ps["x2"].value == 1.0
    assert textbook.make_params()["x1"].value is None
    with pytest.raises(ValueError, match="'y' is not a parameter"):
        textbook.make_params(y=1.0)
    with pytest.raises(ValueError, match="unknown field 'lo'"):
        textbook.make_params(x1={"lo": 0})
    with pytest.raises(ValueError, match="outside its bounds"):
        textbook.make_params(x2={"value": -1.0, "min": 0.0})


def test_fit_problem_holds_fixed_parameters(textbook):
    ps = textbook.make_params(x1=-0.2, x2=-0.5, x3=4.0, x4=-3.0)
    ps["x3"].vary = False
    prob = textbook.fit_problem(T, Y, ps)
    assert isinstance(prob, FitProblem)
    assert prob.names == ["x1", "x2", "x4"]
    np.testing.assert_array_equal(prob.x0, [-0.2, -0.5, -3.0])
    full = [-0.2, -0.5, 4.0, -3.0]
    np.testing.assert_allclose(prob.fun(prob.x0), textbook.residuals(full, T, Y))
    np.testing.assert_allclose(prob.jac(prob.x0), textbook.jacobian(full, T)[:, [0, 1, 3]])
    assert prob.params_at([1.0, 2.0, 3.0]).valuesdict() == {"x1": 1.0, "x2": 2.0, "x3": 4.0,
                                                            "x4": 3.0}


# -- models from callables -------------------------------------------------------------------
def test_from_callable_reads_names_from_the_signature():
    def decay(t, amp, k, base=0.0):
        return amp * np.exp(-k * t) + base

    m = Model.from_callable(decay)
    assert m.param_names == ["amp", "k", "base"]
    assert m.independent_names == ["t"]
    assert m.jacobian is None and m.residual_jacobian is None and not m.has_jacobian
    np.testing.assert_allclose(m.eval([2.0, 0.5, 1.0], [0.0, 2.0]),
                               [3.0, 2 * np.exp(-1.0) + 1.0])
    np.testing.assert_allclose(m.residuals([2.0, 0.5, 1.0], [0.0], [1.0]), [2.0])
    prob = m.fit_problem([0.0, 1.0, 2.0], [1.0, 1.0, 1.0], {"amp": 1.0, "k": 1.0, "base": 0.0})
    assert prob.jac is None
    assert "decay" in repr(m)


def test_from_callable_star_args_needs_names():
    def f(x, *p):
        return p[0] + p[1] * x

    with pytest.raises(ValueError, match="pass param_names"):
        Model.from_callable(f)
    m = Model.from_callable(f, param_names=["a", "b"])
    np.testing.assert_allclose(m.eval([1.0, 2.0], [3.0]), [7.0])


def test_from_callable_shape_is_checked():
    m = Model.from_callable(lambda x, a: np.array([a, a]))
    with pytest.raises(ValueError, match="returned shape"):
        m.eval([1.0], np.arange(5.0))


# -- the library ---------------------------------------------------------------------------------
# (model, x, true parameters); noise-free data from these must give guesses within
# GUESS_RTOL of the truth (absolute for 'center' and 'eta', see below).
LIBRARY_CASES = {
    "exponential": (np.linspace(1, 10, 60), dict(amplitude=5.0, rate=0.7, offset=1.5)),
    "double_exponential": (np.linspace(0, 10, 200),
                           dict(amplitude1=3.0, rate1=2.0, amplitude2=2.0, rate2=0.3,
                                offset=0.5)),
    "gaussian": (np.linspace(-5, 7, 81), dict(amplitude=3.0, center=1.2, sigma=0.8, offset=0.4)),
    "lorentzian": (np.linspace(-10, 12, 101),
                   dict(amplitude=2.0, center=0.7, gamma=1.1, offset=-0.3)),
    "voigt": (np.linspace(-8, 8, 161),
              dict(amplitude=4.0, center=-0.5, fwhm=2.0, eta=0.4, offset=1.0)),
    "logistic": (np.linspace(-6, 10, 80), dict(amplitude=2.5, center=2.0, rate=1.3, offset=0.2)),
    "power_law": (np.linspace(0.5, 20, 50), dict(amplitude=1.7, exponent=-1.3)),
    "michaelis_menten": (np.linspace(0.1, 20, 30), dict(vmax=3.0, km=2.5)),
}
GUESS_RTOL = 0.02  # 2 % of each parameter ...
CENTER_ATOL = 0.02  # ... but centres within 0.02 (grid steps are 0.1-0.2)
ETA_ATOL = 0.05


def test_library_lists_every_model():
    assert models.available() == list(LIBRARY_CASES)


@pytest.mark.parametrize("name", list(LIBRARY_CASES))
def test_library_guess_recovers_noise_free_parameters(name):
    x, true = LIBRARY_CASES[name]
    m = models.get(name)
    assert m is getattr(models, name)
    assert m.param_names == list(true)
    g = m.guess(m.eval(true, x), x=x).valuesdict()
    for k, v in true.items():
        if k == "center":
            assert g[k] == pytest.approx(v, abs=CENTER_ATOL), k
        elif k == "eta":
            assert g[k] == pytest.approx(v, abs=ETA_ATOL), k
        else:
            assert g[k] == pytest.approx(v, rel=GUESS_RTOL), k
    m.make_params(**g).check()  # the guess respects the model's bounds


@pytest.mark.parametrize("name", list(LIBRARY_CASES))
def test_library_guess_is_a_good_start_on_noisy_data(name):
    x, true = LIBRARY_CASES[name]
    m = models.get(name)
    clean = m.eval(true, x)
    noisy = clean + 0.02 * np.ptp(clean) * np.random.default_rng(1).standard_normal(len(x))
    g = m.guess(noisy, x=x).valuesdict()
    assert all(np.isfinite(list(g.values())))
    rms = np.sqrt(np.mean((m.eval(g, x) - clean) ** 2))
    assert rms < 0.05 * np.ptp(clean)


@pytest.mark.parametrize("name", list(LIBRARY_CASES))
def test_library_jacobian_matches_central_differences(name):
    x, true = LIBRARY_CASES[name]
    m = models.get(name)
    p = np.array(list(true.values())) * 1.1  # away from the guessable point
    np.testing.assert_allclose(m.jacobian(p, x), central_jacobian(m, p, x), rtol=1e-6,
                               atol=1e-7)


@pytest.mark.parametrize("name,flip", [("gaussian", "amplitude"), ("lorentzian", "amplitude"),
                                       ("voigt", "amplitude"), ("logistic", "rate")])
def test_library_guess_handles_dips_and_falling_curves(name, flip):
    x, true = LIBRARY_CASES[name]
    true = dict(true, **{flip: -true[flip]})
    m = models.get(name)
    g = m.guess(m.eval(true, x), x=x).valuesdict()
    assert g[flip] == pytest.approx(true[flip], rel=GUESS_RTOL)
    if "center" in true:
        assert g["center"] == pytest.approx(true["center"], abs=CENTER_ATOL)


def test_library_by_name_errors():
    with pytest.raises(ValueError, match="no built-in model 'gauss'.*gaussian"):
        models.get("gauss")
    with pytest.raises(AttributeError):
        models.no_such_model  # noqa: B018


def test_guess_checks_its_input():
    m = models.gaussian
    with pytest.raises(ValueError, match="same length"):
        m.guess([1.0], x=[1.0, 2.0]).valuesdict()
    with pytest.raises(ValueError, match="at least 4 finite"):
        m.guess([1.0, 2.0, 3.0], x=[1.0, 2.0, np.nan]).valuesdict()
    with pytest.raises(NotImplementedError, match="has no guess"):
        Model("a*t").guess([1.0], x=[1.0]).valuesdict()


def test_guess_takes_lmfit_order_and_refuses_two_positional_arrays():
    x, true = LIBRARY_CASES["gaussian"]
    m = models.gaussian
    y = m.eval(true, x)
    g = m.guess(y, x=x)  # lmfit's order: the data first, x by keyword
    assert isinstance(g, Parameters) and list(g) == m.param_names
    assert g["center"].value == pytest.approx(true["center"], abs=CENTER_ATOL)
    assert g["sigma"].min == 0.0  # the model's bounds come with it
    # trustfit's earlier guess(x, y) and lmfit's guess(y, x) cannot be told apart: refused
    with pytest.raises(TypeError, match="pass x by keyword"):
        m.guess(x, y)
    with pytest.raises(TypeError, match="x is required"):
        m.guess(y)


def test_library_fit_problem_defaults_to_the_guess():
    x, true = LIBRARY_CASES["gaussian"]
    m = models.gaussian
    prob = m.fit_problem(x, m.eval(true, x))
    assert prob.names == m.param_names
    assert prob.bounds[0][2] == 0.0  # sigma >= 0 by default
    guess = m.guess(m.eval(true, x), x=x).valuesdict()
    np.testing.assert_allclose(prob.x0, list(guess.values()))


# -- through the solver core ------------------------------------------------------------------
def test_textbook_fit_through_least_squares(textbook):
    from trustfit import least_squares

    res = least_squares(textbook.residuals, [-1.0, 1.0, -10.0, 10.0],
                        jac=textbook.residual_jacobian, args=(T, Y))
    assert res.success
    assert res.cost == pytest.approx(0.0255953, rel=1e-5)
    assert res.cost == pytest.approx(0.5 * np.sum(textbook.residuals(res.x, T, Y) ** 2),
                                     rel=1e-12)


def test_library_fit_problem_through_least_squares():
    from trustfit import least_squares

    x, true = LIBRARY_CASES["voigt"]
    m = models.voigt
    y = m.eval(true, x)
    prob = m.fit_problem(x, y)  # starts from the guess, with 0 <= eta <= 1
    res = least_squares(prob.fun, prob.x0, jac=prob.jac, bounds=prob.bounds)
    fitted = prob.params_at(res.x).valuesdict()
    for k, v in true.items():
        assert fitted[k] == pytest.approx(v, rel=1e-6, abs=1e-8), k


@pytest.mark.parametrize("text,fragment", [
    ("a*t + 1e400", "too large for a float"),
    ("a*t + 1" + "0" * 400, "too large for a float"),
    ("a*t + (-8)**(1/3)", "not a real number"),
    ("a*t/0", "division by zero"),
    ("a*t + 0**-1", "divides by zero"),
])
def test_bad_constants_are_refused(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        Model(text)


def test_parameter_names_cannot_shadow_the_compiled_code():
    # 'sign' is what d|u|/du prints as; 'x0' is what common-subexpression
    # elimination names its temporaries; 'numpy' is the module namespace
    m = Model("abs(sign*t) + x0*exp(numpy*t)*exp(numpy*t)", params=["numpy", "sign", "x0"])
    assert Model("abs(sign*t) + x0*exp(numpy*t)").param_names == ["sign", "x0", "numpy"]
    p, t = [0.5, 5.0, 3.0], np.array([-1.0, 2.0])
    np.testing.assert_allclose(m.eval(p, t), np.abs(5 * t) + 3 * np.exp(t))
    np.testing.assert_allclose(m.jacobian(p, t),
                               np.column_stack([3 * 2 * t * np.exp(t), t * np.sign(5 * t),
                                                np.exp(t)]))


def test_a_long_sum_builds_quickly():
    import time

    start = time.perf_counter()
    m = Model(" + ".join(f"a{i}*exp(-b{i}*t)" for i in range(30)))
    m.jacobian(np.ones(60), np.arange(5.0))
    assert m.param_names[:3] == ["a0", "b0", "a1"] and m.param_names[-1] == "b29"
    assert time.perf_counter() - start < 5.0


@pytest.mark.parametrize("name", list(LIBRARY_CASES))
@pytest.mark.parametrize("data", ["constant", "zeros", "repeated_x", "noise", "step"])
def test_library_guess_survives_degenerate_data(name, data):
    rng = np.random.default_rng(7)
    x = np.linspace(0.0, 10.0, 20)
    y = {"constant": np.full(20, 2.0), "zeros": np.zeros(20),
         "noise": rng.standard_normal(20), "step": (x > 5).astype(float)}.get(data)
    if data == "repeated_x":
        x, y = np.repeat([1.0, 2.0], 10), np.arange(20.0)
    m = models.get(name)
    g = m.guess(y, x=x).valuesdict()  # no warning (they are errors here), no exception
    m.make_params(**g).check()  # finite, and inside the model's bounds


def test_guess_does_not_depend_on_sample_order():
    x, true = LIBRARY_CASES["gaussian"]
    m = models.gaussian
    perm = np.random.default_rng(2).permutation(len(x))
    shuffled = m.guess(m.eval(true, x)[perm], x=x[perm]).valuesdict()
    assert shuffled == m.guess(m.eval(true, x), x=x).valuesdict()


def test_defaults_and_a_custom_guess():
    m = Model("a*exp(-k*t)", params={"k": Parameter("k", 0.5, min=0.0), "a": 2.0},
              guess=lambda t, y: {"a": y[0], "k": 1.0})
    assert m.param_names == ["k", "a"]
    ps = m.make_params()
    assert ps.valuesdict() == {"k": 0.5, "a": 2.0} and ps["k"].min == 0.0
    assert m.make_params(k=0.7)["k"].min == 0.0  # a number keeps the default bounds
    assert m.guess([3.0, 4.0], x=[1.0, 0.0]).valuesdict() == {"k": 1.0, "a": 4.0}  # sorted by t first
