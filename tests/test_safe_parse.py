"""Expression strings are data: the whitelist parser refuses code, and says where."""

import pytest

from trustfit.models._safe_parse import (
    ExpressionError,
    check_name,
    free_names,
    validate,
)

# (expression, a fragment the message must contain)
INJECTIONS = [
    ("__import__('os').system('ls')", "'__import__' is not allowed"),
    ("().__class__", "'.__class__'"),
    ("().__class__.__bases__[0].__subclasses__()", "dunder"),
    ("x.real", "attribute access"),
    ("t.real + a", "attribute access"),
    ("lambda: 1", "lambda"),
    ("a[0]", "subscripts"),
    ('"abc"', "strings are not allowed"),
    ("b'abc'", "strings are not allowed"),
    ("f'{a}'", "strings"),
    ("open('f')", "unknown function 'open'"),
    ("eval('1')", "unknown function 'eval'"),
    ("exec('1')", "unknown function 'exec'"),
    ("getattr(a, 'b')", "unknown function 'getattr'"),
    ("[i for i in t]", "comprehensions"),
    ("(i for i in t)", "comprehensions"),
    ("a if b else c", "conditional"),
    ("exp(x=1)", "keyword arguments"),
    ("exp(*a)", "star"),
    ("__a + t", "'__a' is not allowed"),
    ("t + __builtins__", "dunder"),
    ("a == b", "comparisons"),
    ("a and b", "'and'/'or'"),
    ("(a := 1)", "assignment"),
    ("[a, b]", "lists"),
    ("a, b", "tuples"),
    ("{a: b}", "dicts"),
    ("a % b", "operator '%'"),
    ("a // b", "operator '//'"),
    ("a @ b", "operator '@'"),
    ("~a", "operator '~'"),
    ("not a", "operator 'not'"),
    ("True", "True"),
    ("None", "None"),
    ("1j*t", "1j"),
    ("exp", "'exp' is a function"),
    ("exp(a, b)", "takes exactly 1 argument"),
    ("(a)(b)", "unknown function 'a'"),
    ("exp(t)(a)", "only calls of the allowed functions"),
    ("a.b(c)", "attribute access"),
    ("a\x00b", "control character"),
]


@pytest.mark.parametrize("text,fragment", INJECTIONS)
def test_code_is_refused_with_a_clear_message(text, fragment):
    with pytest.raises(ValueError) as info:
        validate(text)
    assert isinstance(info.value, ExpressionError)
    msg = str(info.value)
    assert fragment in msg
    assert repr(text) in msg  # the message quotes the expression


def test_refusal_points_at_the_offending_column():
    err = pytest.raises(ExpressionError, validate, "a + b.real").value
    assert err.column == 5  # the attribute node starts at 'b'
    assert "at column 5" in str(err)
    # the caret line sits under column 5
    assert str(err).splitlines()[-1] == "    " + " " * 4 + "^"
    err = pytest.raises(ExpressionError, validate, "exp(t) + open(1)").value
    assert err.column == 10


def test_syntax_error_names_the_position():
    err = pytest.raises(ExpressionError, validate, "a*(b+").value
    assert isinstance(err, ValueError)
    assert "syntax error" in str(err)
    assert "'(' was never closed" in str(err)
    assert err.column == 3 and "at column 3" in str(err)


def test_syntax_error_at_the_end_says_so():
    err = pytest.raises(ExpressionError, validate, "a + ").value
    assert err.column == 4
    assert "ends too early" in str(err)


def test_syntax_error_in_the_middle():
    err = pytest.raises(ExpressionError, validate, "a + )").value
    assert err.column == 5


def test_caret_columns_refer_to_the_text_as_written():
    # each '^' becomes '**' before parsing; the reported column must not shift
    err = pytest.raises(ExpressionError, validate, "a^b + c^d % e").value
    assert err.column == 11
    assert "operator '%'" in str(err)
    err = pytest.raises(ExpressionError, validate, "  a + b.c").value  # leading blanks
    assert err.column == 7


@pytest.mark.parametrize("text", [
    "x3*exp(x1*t) + x4*exp(x2*t)",
    "-a + +b*t - 1.5e-3",
    "a*t^2 + b",
    "sqrt(abs(a))*sin(2*pi*t/p) + e**c",
    "log10(t) + ln(t) + log(t) + erf(t) + erfc(t) + arctan(t) + atan(t)",
    "asin(a) + arcsin(t) + acos(a) + arccos(t) + tan(t) + sinh(t) + cosh(t) + tanh(t)",
    "(a\n + b*t)",
    "  a*t",
])
def test_ordinary_formulas_are_accepted(text):
    validate(text)


def test_free_names_in_order_of_appearance_without_functions_or_constants():
    tree = validate("x3*exp(x1*t) + x4*exp(x2*t) + pi*e")
    assert free_names(tree) == ["x3", "x1", "t", "x4", "x2"]


@pytest.mark.parametrize("bad", [3, None, b"a*t", ["a"]])
def test_non_string_is_refused(bad):
    with pytest.raises(ValueError, match="expr must be a string"):
        validate(bad)


def test_empty_and_overlong_are_refused():
    with pytest.raises(ValueError, match="empty"):
        validate("   ")
    with pytest.raises(ValueError, match="more than the limit of 5000"):
        validate("a+" * 3000 + "t")


@pytest.mark.parametrize("name", ["exp", "pi", "e", "__x", "1a", "lambda", "a b", ""])
def test_check_name_refuses_reserved_and_invalid(name):
    with pytest.raises(ValueError, match="not"):
        check_name(name, "parameter")


def test_check_name_refuses_a_non_string_as_a_type_error():
    with pytest.raises(TypeError, match="parameter name must be a string, got int 3"):
        check_name(3, "parameter")


def test_deep_nesting_is_refused_but_long_sums_are_not():
    with pytest.raises(ValueError, match="nested more than 50 levels"):
        validate("sin(" * 60 + "t" + ")" * 60)
    with pytest.raises(ValueError, match="nested more than 50 levels"):
        validate("a" + "**a" * 60)  # powers nest to the right
    validate("+".join(["a*t"] * 1200))  # a left-deep chain, walked without recursion
