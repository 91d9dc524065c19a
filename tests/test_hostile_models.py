"""Hostile model input: names that would be code, expressions that would never finish,
constants that are not finite reals.  Each gets one clear ValueError/TypeError, fast.

The fuzz tests at the end run a few hundred examples in the normal suite; with
HYPOTHESIS_PROFILE=fuzz (make fuzz) at least 5000 each.
"""

import time

import numpy as np
import pytest

sympy = pytest.importorskip("sympy")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from trustfit.models import Model, Parameter  # noqa: E402
from trustfit.models._safe_parse import ExpressionError  # noqa: E402
from trustfit.models.names import validate_name  # noqa: E402

# -- names --------------------------------------------------------------------------

CODE_NAMES = ["a\nimport os", "a;b", "a\rb", "__import__", "__class__", "a b", "a'b",
              "ａ", "α", "a\x00", "", "1a", "a.b", "a-b", "x\u2028y"]


@pytest.mark.parametrize("name", CODE_NAMES)
def test_a_name_that_is_not_a_plain_identifier_is_refused_everywhere(name):
    with pytest.raises(ValueError, match="is not valid"):
        validate_name(name, "parameter")
    with pytest.raises(ValueError, match="not valid"):
        Parameter(name, 1.0)
    with pytest.raises(ValueError, match="not valid"):
        Model("a*t", params={name: 1.0})
    with pytest.raises(ValueError, match="not valid"):
        Model("a*t", independent=["t", name])
    with pytest.raises(ValueError, match="not valid"):
        Model("a*t", params=[name])


def test_a_keyword_gets_advice_not_a_syntax_error():
    with pytest.raises(ExpressionError, match="'lambda' is a reserved word in Python; "
                                              "call it lam") as info:
        Model("lambda*t + b")
    assert info.value.column == 1
    with pytest.raises(ValueError, match="'lambda' is a reserved word in Python; call it lam"):
        validate_name("lambda", "--p0")
    with pytest.raises(ValueError, match="'in' is a reserved word"):
        Model("a*t + in")


def test_a_non_string_name_is_a_type_error_naming_the_argument():
    with pytest.raises(TypeError, match="parameter name must be a string, got int 3"):
        Model("a*t", params=[3])
    with pytest.raises(TypeError, match="independent must be a name or an ordered sequence"):
        Model("a*t", independent=5)
    with pytest.raises(TypeError, match="got set"):
        Model("a*x*y", independent={"x", "y"})


def test_independent_may_be_any_ordered_sequence():
    for indep in (["x", "y"], ("x", "y"), np.array(["x", "y"])):
        m = Model("a*x + b*y", independent=indep)
        assert m.independent_names == ["x", "y"]
        np.testing.assert_allclose(m.eval([2.0, 3.0], ([1.0, 2.0], [10.0, 20.0])),
                                   [32.0, 64.0])


def test_unicode_in_an_expression_is_refused_at_its_column():
    # Python would NFKC-normalise the fullwidth letter to 'a' and run on silently
    err = pytest.raises(ExpressionError, Model, "ａ*t").value
    assert err.column == 1 and "U+FF41" in str(err)
    err = pytest.raises(ExpressionError, Model, "a*t − b").value  # a Unicode minus
    assert err.column == 5


# -- fit_batch's model boundary ----------------------------------------------------

def test_fit_batch_model_argument_errors_name_the_argument():
    from trustfit.batch._model import as_batch_model

    with pytest.raises(TypeError, match="model: expected a trustfit.Model"):
        as_batch_model(None)
    bm = as_batch_model("a*x*y + b", independent=["x", "y"])  # a list: hashable key now
    assert bm.param_names == ["a", "b"] and [s.name for s in bm.independent_symbols] == [
        "x", "y"]
    assert as_batch_model("a*t + b", params=["b", "a"]).param_names == ["b", "a"]
    with pytest.raises(ValueError, match="'lambda' is a reserved word"):
        as_batch_model("lambda*t")
    t = sympy.Symbol("t")
    with pytest.raises(ValueError, match="is not valid: it contains '\\\\n'"):
        as_batch_model(sympy.Symbol("a\nimport os") * t)
    with pytest.raises(ValueError, match="undefined function 'f'"):
        as_batch_model(sympy.Symbol("a") * sympy.Function("f")(t))
    with pytest.raises(ValueError, match="complex infinity"):
        as_batch_model(sympy.Symbol("a") * t + sympy.zoo)
    with pytest.raises(ValueError, match="neither a parameter nor"):
        as_batch_model(sympy.Symbol("a") * t + sympy.Symbol("z"), params=["a"])
    big = sympy.Mul(*sympy.symbols("p0:200")) * t
    with pytest.raises(ValueError, match="symbolic work budget"):
        as_batch_model(big)


# -- constants that are not finite real numbers ------------------------------------

NOT_FINITE = [
    ("a*t*log(0)", "log(0)"),
    ("a*t + tan(pi/2)", "tan(pi/2)"),
    ("a*t + 1/tan(pi/2)", "tan(pi/2)"),
    ("a*t + log(cos(pi/2))", "log(cos(pi/2))"),
    ("a*t + pi**pi**pi**pi", "pi**pi**pi**pi"),
    ("a*t + " + "7" * 300 + "*" + "3" * 300, "overflows"),
    ("a*t + abs(exp(exp(exp(exp(9))))-3)", "exp(exp(exp(exp(9))))"),
    ("a*t+sqrt(-1)", "sqrt(-1)"),
    ("a*t*log(-1)", "log(-1)"),
    ("a*t + asin(2)", "asin(2)"),
    ("a*t*exp(1e300*1e300*1e300*1e300*1e300)", "1e300*1e300"),
    ("a*1e300*1e300*t", "product of the numbers"),
    ("a*log(0*t)", "log(0*t)"),
    ("a*(1e200*t)**2", "(1e200*t)**2"),
    ("a*(3*t)**1000", "(3*t)**1000"),
]


@pytest.mark.parametrize("text,named", NOT_FINITE)
def test_constants_that_are_not_finite_reals_are_refused_at_model(text, named):
    with pytest.raises(ExpressionError) as info:
        Model(text)
    assert named in str(info.value)


def test_exact_constants_that_stay_finite_are_kept():
    m = Model("a*t + sqrt(" + "7" * 300 + ") + 1/3 + 2**62")
    v = m.eval([1.0], [0.0])[0]
    assert v == pytest.approx(float("7" * 300) ** 0.5 + 1 / 3 + 2.0**62, rel=1e-14)
    m = Model("a*(2*t)**1000")  # 2**1000 fits a float; the Jacobian's 1000*2**1000 too
    np.testing.assert_allclose(m.jacobian([1.0], [0.5]), [[1.0]], rtol=1e-12)


# -- the work budget ----------------------------------------------------------------

HEAVY = [
    "*".join(f"p{i}" for i in range(200)) + "*t",
    "*".join(f"(t+a{i})" for i in range(200)),
    "+".join(f"a{i}*exp(-(t-b{i})**2/c{i})" for i in range(100)),
    "a*(2*t)**1000000",
    "a*" + "(" * 12 + "t" + ")**2" * 12,
]


@pytest.mark.parametrize("text", HEAVY, ids=["product", "binomials", "gaussians",
                                             "huge power", "nested squares"])
def test_work_past_the_budget_is_refused_before_sympy_starts(text):
    start = time.process_time()
    with pytest.raises(ExpressionError, match="budget|degree"):
        Model(text)
    # refused by a walk of the tree: no sympy object was built (that takes seconds)
    assert time.process_time() - start < 0.5


def test_models_within_the_budget_still_build():
    m = Model("+".join(f"a{i}*exp(-b{i}*t)" for i in range(30)))
    assert m.nparams == 60
    m = Model("+".join(f"a{i}*exp(-(t-b{i})**2/c{i})" for i in range(15)))
    assert m.nparams == 45


# -- fuzz --------------------------------------------------------------------------

TOKENS = ["a", "b", "t", "x1", "p", "_", "__x", "lambda", "in", "0", "1", "2.5", "1e308",
          "1e-320", "9" * 30, "+", "-", "*", "/", "**", "^", "(", ")", "(", ")", " ", ",",
          "exp", "log", "sqrt", "tan", "sin", "abs", "erf", "asin", "pi", "e", "%", "@",
          ".", "[", "]", "'", ";", "\n", "ａ", "α", "−", "\x00", "=", ":", "lambda:", "j"]


def _outcome(text):
    """Model(text) plus a first evaluation and Jacobian; the exception type if refused."""
    try:
        m = Model(text)
    except (ValueError, TypeError):
        return "refused"
    p = np.linspace(0.5, 1.5, m.nparams)
    x = np.linspace(-2.0, 2.0, 7)
    f, jac = m.eval(p, x), m.jacobian(p, x)
    assert f.shape == (7,) and jac.shape == (7, m.nparams)
    return "accepted"


def _expressions():
    leaf = st.sampled_from(["a", "b", "t", "t", "p1", "2", "0.5", "0", "1e300", "1e-300",
                            "pi", "e", "-1", "1" + "0" * 40])
    funcs = st.sampled_from(["exp", "log", "sqrt", "sin", "cos", "tan", "atan", "asin",
                             "tanh", "sinh", "abs", "erf", "erfc", "log10"])
    ops = st.sampled_from(["+", "-", "*", "/", "**", "^"])
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(lambda f, u: f"{f}({u})", funcs, inner),
            st.builds(lambda u, o, v: f"({u}){o}({v})", inner, ops, inner),
            st.builds(lambda u: f"-{u}", inner)),
        max_leaves=25)


FUZZ = settings(max_examples=max(150, settings.default.max_examples), deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.fuzz
@FUZZ
@given(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=14).map("".join))
def test_fuzz_token_strings_give_a_model_or_a_value_error(text):
    _outcome(text)


@pytest.mark.fuzz
@FUZZ
@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=30))
def test_fuzz_arbitrary_text_gives_a_model_or_a_value_error(text):
    _outcome(text)


@pytest.mark.fuzz
@settings(max_examples=max(60, settings.default.max_examples), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(_expressions())
def test_fuzz_random_formulas_give_a_model_or_a_value_error(text):
    # whatever is accepted evaluates (to finite values or NaN/inf) without raising or
    # warning: pytest turns warnings into errors
    _outcome(text + "*t" if "t" not in text else text)


@pytest.mark.fuzz
@FUZZ
@given(st.one_of(st.text(max_size=12), st.integers(), st.none(), st.binary(max_size=5)))
def test_fuzz_names_are_valid_identifiers_or_refused(name):
    try:
        out = validate_name(name, "parameter")
    except (ValueError, TypeError):
        return
    assert out.isascii() and out.isidentifier() and "__" not in out
