"""An expression string's batch model without sympy (issue 21: the first batch fit): the
numeric value and Jacobian from the tree (trustfit.models._forward) equal the sympy model's
lambdified ones, the numpy path fits without building the sympy model, and what sympy
would simplify or refuse still goes through sympy."""

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("sympy")
import scipy.optimize as so  # noqa: E402

from trustfit.batch import fit_batch  # noqa: E402
from trustfit.batch._model import BatchModel, as_batch_model, from_text  # noqa: E402
from trustfit.batch._text_model import TextModel  # noqa: E402
from trustfit.models import Model  # noqa: E402
from trustfit.models._forward import numeric_model  # noqa: E402
from trustfit.models.expression import read_expression  # noqa: E402

TAKEN = [
    "a*exp(-t/tau) + b*sin(w*t)",
    "x3*exp(x1*t) + x4*exp(x2*t)",
    "a*exp(-(t-mu)**2/(2*s**2)) + c",
    "top*t**n/(K**n + t**n) + bottom",
    "a*exp(-(t/tau)**beta) + c",
    "a*sqrt(t) + b*log10(t + 1) + erf(c*t) + abs(d*t - 1)",
    "a*cosh(b*t)/tanh(c + t) + atan(d*t) - asin(t/(4 + e**2))*acos(t/5)",
    "a*2**(b*t) + c*t**2.5 + d**3*t - 1/(f*t + 3)",
    "(a*t)**0.5 + b",
    "a*erfc(b*t)*ln(1 + c*t^2) + tan(d*t) - sinh(k*t)",
]
# sympy simplifies (like terms, like bases, exact constants) or refuses: not taken here
NOT_TAKEN = ["a - a + t", "a*t/t", "a*sin(pi/2)*t", "exp(a*t)*exp(-b*t)", "2*a*t + a*t*3",
             "a*t + b*(t*t)*t"]


def _both(text, p, t):
    tree, indep, roots, _ = read_expression(text)
    f, jac, _src = numeric_model(tree, indep, roots)
    model = Model(text)
    with np.errstate(all="ignore"):
        v = np.broadcast_to(np.asarray(f(t, *p), float), t.shape)
        J = np.stack([np.broadcast_to(np.asarray(c, float), t.shape) for c in jac(t, *p)], -1)
        return v, J, model.eval(p, t), model.jacobian(p, t)


@pytest.mark.parametrize("text", TAKEN)
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_forward_value_and_jacobian_equal_the_sympy_models(text, seed):
    # the reference is sympy's own differentiation and lambdify (Model.eval / .jacobian);
    # where sympy's simplification makes a value finite that the tree's is not (t = 0 in
    # (t/tau)**beta), TextModel takes sympy's there (test below); elsewhere the two agree
    # to rounding
    rng = np.random.default_rng(seed)
    n = len(read_expression(text)[2])
    p = rng.uniform(0.3, 2.0, n) * rng.choice([-1.0, 1.0], n)
    t = rng.uniform(0.01, 3.0, 25)
    v, J, v_ref, J_ref = _both(text, p, t)
    for a, b in ((v, v_ref), (J, J_ref)):
        assert np.array_equal(np.isfinite(a), np.isfinite(b))
        ok = np.isfinite(b)
        np.testing.assert_allclose(a[ok], b[ok], rtol=1e-11, atol=1e-300)


@pytest.mark.parametrize("text", NOT_TAKEN)
def test_what_sympy_simplifies_is_built_by_sympy(text):
    tree, indep, roots, _ = read_expression(text)
    assert numeric_model(tree, indep, roots) is None
    bm = from_text(text, ("t",), None)
    assert type(bm) is BatchModel and bm.expr is not None


def test_errors_are_the_sympy_models():
    with pytest.raises(ValueError, match="not a finite real number|division by zero"):
        from_text("a/(t - t)", ("t",), None)
    with pytest.raises(ValueError, match="has no parameters"):
        from_text("2*t", ("t",), None)
    with pytest.raises(ValueError, match="tan.pi/2. is not a finite real number"):
        from_text("a*tan(pi/2)*t", ("t",), None)  # in floats 1.6e16: sympy judges it


@pytest.mark.parametrize("text, point", [
    ("a*(t/K)**n + c", {"a": 1.5, "K": 2.0, "n": 0.7, "c": 0.1}),  # d/dK at t = 0
    ("a*exp(-(t/tau)**beta) + c", {"a": 2.0, "tau": 1.3, "beta": 0.6, "c": 0.5}),
])
def test_where_the_tree_is_not_finite_the_sympy_value_is_taken(text, point):
    bm = from_text(text, ("t",), None)
    assert isinstance(bm, TextModel)
    p = [point[k] for k in bm.param_names]
    t = np.array([0.0, 0.5, 2.0])
    J = bm.jac_func(t, *p)
    ref = Model(text).jacobian(p, t)  # sympy's (edge-safe) derivatives
    assert np.isfinite(ref).all() and np.isfinite(J).all()
    np.testing.assert_allclose(J, ref, rtol=1e-12, atol=0)


def test_numpy_fit_of_a_string_needs_no_sympy_model_and_agrees_with_scipy():
    rng = np.random.default_rng(3)
    t = np.linspace(0.0, 10.0, 40)
    true = np.array([2.0, 1.0, 2.5, 1.7])
    P = true * (1 + 0.05 * rng.standard_normal((30, 4)))
    Y = P[:, [0]] * np.exp(-t / P[:, [2]]) + P[:, [1]] * np.sin(P[:, [3]] * t)
    Y += 0.05 * rng.standard_normal(Y.shape)
    text = "a*exp(-t/tau) + b*sin(w*t) "  # a text no other test has parsed
    p0 = dict(zip(["a", "b", "tau", "w"], true * 1.05))
    r = fit_batch(text, t, Y, p0, backend="numpy")
    bm = as_batch_model(text)  # the object the fit used (remembered by its text)
    assert isinstance(bm, TextModel) and bm._model is None  # sympy model never built

    def f(x, a, b, tau, w):
        return a * np.exp(-x / tau) + b * np.sin(w * x)

    for i in range(len(Y)):
        ref = so.curve_fit(f, t, Y[i], p0=list(p0.values()), ftol=1e-14, xtol=1e-14,
                           gtol=1e-14)[0]
        got = r.params[i, [r.param_names.index(k) for k in "a b tau w".split()]]
        np.testing.assert_allclose(got, ref, rtol=1e-6)


def test_text_model_pickles_by_its_text():
    bm = from_text("a*exp(-k*t) + c", ("t",), ("c", "a", "k"))
    back = pickle.loads(pickle.dumps(bm))
    assert isinstance(back, TextModel) and back.param_names == ["c", "a", "k"]
    t = np.linspace(0, 2, 5)
    np.testing.assert_array_equal(back.func(t, 0.5, 2.0, 1.2), bm.func(t, 0.5, 2.0, 1.2))
    # the compiled path reads the sympy model, built on demand: the same as Model's
    assert str(back.expr) == str(Model("a*exp(-k*t) + c", params=["c", "a", "k"]).expr)


def test_text_model_has_a_dask_token_from_its_text():
    dask = pytest.importorskip("dask")
    a = from_text("a*exp(-k*t) + c", ("t",), None)
    b = from_text("a*exp(-k*t) + c", ("t",), None)
    c = from_text("a*exp(-k*t) + d", ("t",), None)
    assert dask.base.tokenize(a) == dask.base.tokenize(b) != dask.base.tokenize(c)
