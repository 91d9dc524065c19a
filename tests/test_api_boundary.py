"""Bad arguments to the public functions are a TypeError (wrong type) or a ValueError (wrong
value) raised at the boundary, naming the argument, the value and the rule (issue 13, item 5);
the user's own function may still raise its own errors, which pass through unchanged."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import trustfit
from trustfit import diagnose, fit, fit_batch, least_squares
from trustfit.batch import CompileWarning

T = np.linspace(0.0, 4.0, 12)
Y = np.stack([2.0 * np.exp(-0.5 * T), 1.0 * np.exp(-1.5 * T)])


def decay(t, a, k):
    return a * np.exp(-k * t)


def test_fun_not_callable_is_a_type_error():
    with pytest.raises(TypeError, match=r"fun must be callable \(a function\), got 42 of type "
                                        r"int"):
        least_squares(42, [1.0])
    with pytest.raises(TypeError, match="f must be callable"):
        trustfit.curve_fit("a*t", T, Y[0], p0=[1.0, 1.0])


@pytest.mark.parametrize("returned, kind", [
    (lambda x: {"a": x[0]}, "dict"),
    (lambda x: (v for v in x), "generator"),
    (lambda x: None, "NoneType"),
    (lambda x: "residual", "str"),
    (lambda x: ["a", "b"], "list"),
])
def test_fun_returning_no_numbers_is_a_type_error(returned, kind):
    with pytest.raises(TypeError, match=f"fun must return an array of numbers, but it "
                                        f"returned {kind} "):
        least_squares(returned, [1.0])


def test_fun_returning_a_ragged_list_is_a_value_error():
    with pytest.raises(ValueError, match=r"fun returned a ragged sequence \[\[1, 2\], \[3\]\]"):
        least_squares(lambda x: [[1, 2], [3]], [1.0])


def test_the_users_own_errors_pass_through_unchanged():
    class Mine(Exception):
        pass

    def fun(x):
        raise Mine("from the user's code")

    with pytest.raises(Mine, match="from the user's code"):
        least_squares(fun, [1.0])
    with pytest.raises(KeyError, match="'gone'"):
        least_squares(lambda x: {}["gone"], [1.0])


def test_diagnose_and_report_need_a_fit_result():
    with pytest.raises(TypeError, match="result must be a FitResult .* got NoneType"):
        diagnose(None)
    from trustfit.analysis.report import report
    with pytest.raises(TypeError, match="report needs a FitResult, got dict"):
        report({"x": [1.0]})


def test_param_names_must_be_strings_one_per_parameter():
    with pytest.raises(TypeError, match=r"param_names must be strings, got 1 of type int in "
                                        r"\(1, 2, 3\)"):
        fit(lambda t, a, b, c: a * t + b + c, T, Y[0], p0=[1, 1, 1], param_names=(1, 2, 3))
    with pytest.raises(TypeError, match="param_names must be a list or tuple of 2 strings, "
                                        "got 'ak'"):
        fit(decay, T, Y[0], p0=[1, 1], param_names="ak")
    with pytest.raises(ValueError, match="param_names has 3 names for 2 parameters"):
        fit(decay, T, Y[0], p0=[1, 1], param_names=("a", "k", "c"))
    r = fit(decay, T, Y[0], p0=[1, 1], param_names=["amp", "rate"])
    assert r.param_names == ("amp", "rate") and "amp" in r.report()
    # a result whose names were set by hand is checked where it is read
    r = dataclasses.replace(r, param_names=(1, 2))
    with pytest.raises(TypeError, match="param_names must be strings"):
        r.report()
    with pytest.raises(TypeError, match="param_names must be strings"):
        diagnose(r)
    with pytest.raises(ValueError, match="param_names has 1 names for 2 parameters"):
        diagnose(r, param_names=["a"])


@pytest.mark.parametrize("value, error, rule", [
    (None, TypeError, "maxiter must be a whole number, got None of type NoneType"),
    (1.5, TypeError, "maxiter must be a whole number, got 1.5 of type float"),
    ("200", TypeError, "maxiter must be a whole number, got '200' of type str"),
    (True, TypeError, "maxiter must be a whole number, got True of type bool"),
    (2**70, ValueError, "maxiter must be a whole number from 0 to 2147483647, got "
                        "1180591620717411303424"),
    (-1, ValueError, "maxiter must be a whole number from 0 to 2147483647, got -1"),
])
def test_fit_batch_maxiter(value, error, rule):
    with pytest.raises(error, match=rule):
        fit_batch(decay, T, Y, [1.0, 1.0], maxiter=value)


def test_fit_batch_chunk_size():
    with pytest.raises(TypeError, match="chunk_size must be a whole number, got None"):
        fit_batch(decay, T, Y, [1.0, 1.0], chunk_size=None)
    with pytest.raises(ValueError, match="chunk_size must be a whole number >= 1, got 0"):
        fit_batch(decay, T, Y, [1.0, 1.0], chunk_size=0)


@pytest.mark.parametrize("pair", [5, (0,), "xy", (0, 1, 2), None])
def test_fit_batch_bounds_dict_values_are_pairs(pair):
    with pytest.raises(TypeError, match=r"bounds: 'a': .*; each value of a bounds dict must "
                                        r"be a pair \(lo, hi\), e.g. \{'a': \(0, 10\)\}"):
        fit_batch(decay, T, Y, [1.0, 1.0], bounds={"a": pair})


def test_fit_batch_good_arguments_still_fit():
    r = fit_batch(decay, T, Y, [1.0, 1.0], maxiter=50, chunk_size=1, bounds={"a": (0, 10)})
    np.testing.assert_allclose(r.params, [[2.0, 0.5], [1.0, 1.5]], rtol=1e-8)


def test_compile_warning_is_trustfits_own_category():
    assert issubclass(CompileWarning, trustfit.FitWarning)
    assert not issubclass(CompileWarning, RuntimeWarning)
