"""Bad inputs give a ValueError naming the argument, the value and the rule; numerical trouble
in the middle of a run is handled, never raised; success is never claimed on a budget stop."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize

import trustfit
from trustfit import StopReason
from trustfit import examples as ex
from trustfit.core.events import MethodSwitch


def fit(**kw):
    # Pinned to 'lm': these tests count iterations, evaluations and printed lines of one run.
    kw.setdefault("method", "lm")
    kw.setdefault("fun", ex.residuals)
    kw.setdefault("x0", ex.STARTS[0])
    return trustfit.least_squares(**kw)


@pytest.mark.parametrize("kw,match", [
    (dict(x0=[np.nan, 1, 1, 1]), r"x0 must be finite; x0\[0\] = \[nan\]"),
    (dict(x0=np.ones((2, 2))), r"x0 must be a 1-D array of numbers, got shape \(2, 2\)"),
    (dict(x0=[]), "x0 is empty"),
    (dict(x0=[1j, 0, 0, 0]), "x0 must be real"),
    (dict(x0=["a", 1, 2, 3]), "x0 must be a 1-D array of numbers"),
    (dict(method="newton"), r"method must be one of 'auto', 'gn', 'lm', 'hybrid', 'dogleg', 'tr', 'trf', 'dogbox'; got 'newton'"),
    (dict(ftol=-1.0), r"ftol must be a finite number >= 0 \(or None to switch the test off\), got -1.0"),
    (dict(gtol=np.inf), "gtol must be a finite number >= 0"),
    (dict(xtol="small"), "xtol must be a number >= 0 or None, got 'small'"),
    (dict(max_nfev=0), "max_nfev must be a whole number >= 1 or None, got 0"),
    (dict(max_iter=2.5), "max_iter must be a whole number >= 1 or None, got 2.5"),
    (dict(jac="4-point"), "jac must be one of '2-point', '3-point', 'cs'; got '4-point'"),
    (dict(x_scale=[1, -1, 1, 1]), r"x_scale must be positive and finite, got \[1.0, -1.0, 1.0, 1.0\]"),
    (dict(x_scale="auto"), "x_scale must be 'jac' or positive numbers, got 'auto'"),
    (dict(diff_step=0.0), "diff_step must be positive and finite"),
    (dict(bounds=(0.0, 1.0)), r"x0 must lie within the bounds, but x0\[0\] = -1.0 is outside \[0.0, 1.0\]"),
    (dict(bounds=([-2, 0, -20, 0], [2, 0, 20, 20])), r"lb\[1\] = 0.0 >= ub\[1\] = 0.0"),
    (dict(bounds=([-2, -2], [2, 2])), "bounds must be a pair .* of length 4"),
    (dict(bounds=5), r"bounds must be a pair \(lb, ub\)"),
    (dict(tau=0.0), "tau must be a finite number > 0, got 0.0"),
    (dict(damping="fletcher"), "damping must be one of 'nielsen', 'marquardt'; got 'fletcher'"),
    (dict(verbose=3), "verbose must be 0, 1 or 2, got 3"),
    (dict(loss="hubber"), r"^`loss` must be one of .* or a callable\. Got 'hubber'"),
    (dict(f_scale=0.0), r"^`f_scale` must be positive\."),
])
def test_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        fit(**kw)


@pytest.mark.parametrize("kw,match", [
    (dict(args=5), "args must be a tuple .*, got int"),
    (dict(kwargs=[("a", 1)]), "kwargs must be a dict, got list"),
    (dict(callback=5), "callback must be callable or None"),
    (dict(rescue="yes"), "rescue must be True or False"),
    (dict(seed=1.5), "seed must be a whole number"),
])
def test_arguments_of_the_wrong_type(kw, match):
    with pytest.raises(TypeError, match=match):
        fit(**kw)


def test_a_model_returning_no_numbers_is_a_type_error_naming_it():
    def f(t, a):
        return {"value": a * t}

    with pytest.raises(TypeError, match="f must return an array of numbers, but it returned dict"):
        trustfit.curve_fit(f, np.arange(5.0), np.arange(5.0), p0=[1.0])
    with pytest.raises(TypeError, match="jac must return an array of numbers"):
        trustfit.curve_fit(lambda t, a: a * t, np.arange(5.0), np.arange(5.0), p0=[1.0],
                           jac=lambda t, a: iter([t]))


def test_fun_with_wrong_output_shape():
    with pytest.raises(ValueError, match=r"fun must return a 1-D array of residuals, but it returned shape \(2, 2\)"):
        fit(fun=lambda x: np.ones((2, 2)))


def test_fun_changing_output_length():
    calls = []

    def fun(x):
        calls.append(1)
        return np.ones(3 if len(calls) == 1 else 4) * x[0]

    with pytest.raises(ValueError, match="fun returned 4 residuals at one point and 3 at another"):
        fit(fun=fun, x0=[1.0])


def test_complex_residuals_refused():
    with pytest.raises(ValueError, match="fun returned complex residuals"):
        fit(fun=lambda x: x + 1j, x0=[1.0])


def test_jacobian_with_wrong_shape():
    with pytest.raises(ValueError, match=r"jac must return an array of shape \(m, n\) = \(11, 4\), but it returned shape \(4, 11\)"):
        fit(jac=lambda x: ex.jacobian(x).T)


def test_nonfinite_residuals_at_x0():
    with pytest.raises(ValueError, match=r"non-finite residuals at x0 \(at indices \[1\]\)"):
        fit(fun=lambda x: np.array([1.0, np.nan]) * x[0], x0=[1.0])


def test_nonfinite_jacobian_at_x0():
    with pytest.raises(ValueError, match=r"Jacobian at x0 has non-finite entries in columns \[0\]"):
        fit(fun=lambda x: x, jac=lambda x: np.array([[np.inf]]), x0=[1.0])


@pytest.mark.parametrize("method", trustfit.METHODS)
def test_nonfinite_trial_points_are_rejected_not_raised(method):
    # The model is undefined (NaN) for b > 1.2; the first full steps overshoot into it.
    t = np.linspace(0, 1, 20)
    y = np.exp(1.0 * t)

    def fun(b):
        return np.where(b[0] > 1.2, np.nan, np.exp(b[0] * t)) - y

    r = fit(fun=fun, x0=[-3.0], method=method)
    assert r.success and r.x[0] == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("method", trustfit.METHODS)
def test_overflow_is_quiet(method):
    # exp(b t) overflows for the large trial steps from this start; no RuntimeWarning may
    # escape (the test suite runs with warnings as errors).
    t = np.linspace(0, 50, 30)
    y = 3.0 * np.exp(-0.2 * t)

    def fun(p):
        return p[0] * np.exp(p[1] * t) - y

    r = fit(fun=fun, x0=[1.0, 5.0], method=method)
    assert np.isfinite(r.cost)


def test_budget_stop_is_never_success():
    r = fit(max_nfev=5)
    assert r.stop_reason is StopReason.MAX_NFEV and not r.success and r.status == 0
    assert r.nfev == 5 and "max_nfev=5" in r.message
    r = fit(max_iter=3)
    assert r.stop_reason is StopReason.MAX_ITER and not r.success and r.nit == 3


def test_line_search_failure_keeps_best_point():
    # A kink at the minimum of |x| + 1 and a Jacobian that claims slope 1 everywhere: the GN
    # direction h = -1 never decreases the cost, whatever its length.
    def fun(x):
        return np.array([np.abs(x[0]) + 1.0])

    r = fit(fun=fun, x0=[0.0], method="gn", jac=lambda x: np.array([[1.0]]))
    assert r.stop_reason is StopReason.LINE_SEARCH_FAILED and not r.success
    assert r.x[0] == 0.0 and r.cost == 0.5


def test_callback_stops_the_run():
    seen = []

    def callback(intermediate_result):
        seen.append(intermediate_result.cost)
        if len(seen) == 4:
            raise StopIteration

    r = fit(callback=callback)
    assert r.stop_reason is StopReason.CALLBACK and r.nit == 4 and not r.success
    assert seen[-1] == r.cost


def test_callback_with_x_only():
    xs = []
    r = fit(callback=lambda x: xs.append(x))
    # As SciPy 1.16+: once per accepted step (a rejected step leaves x unchanged).
    accepted = sum(h.accepted for h in r.history)
    # (nit >= accepted: whether any step is rejected on the way depends on the BLAS kernel)
    assert r.nit >= accepted > 0 and len(xs) == accepted and np.array_equal(xs[-1], r.x)


def test_verbose_two_prints_one_line_per_iteration(capsys):
    r = fit(verbose=2, jac=ex.jacobian)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:5] == ["iter", "cost", "|g|inf", "step", "kind"]
    assert len(lines) == 1 + r.nit + 2  # header, iterations, final message and summary
    assert lines[1].split()[4] == "LM"
    assert lines[-2] == r.message


def test_caller_arrays_are_not_modified():
    x0 = np.array(ex.STARTS[0])
    before = x0.copy()

    def fun(x):
        r = ex.residuals(x)
        x[:] = 1e9  # a badly behaved user function writing into its argument
        return r

    r = fit(fun=fun, x0=x0, jac=ex.jacobian)
    np.testing.assert_array_equal(x0, before)
    assert r.cost == pytest.approx(ex.MINIMUM_COST, rel=1e-6)


def test_scipy_aliases_map_to_trustfit_solvers():
    assert fit(method="dogbox").method == "dogleg"
    # 'trf' is the default, 'auto': from this start its trust-region stage stalls where one
    # exponential vanished, LM from that point too, and LM from x0 finishes
    r = fit(method="trf")
    switches = [e for e in r.events if isinstance(e, MethodSwitch)]
    assert [(e.first, e.origin) for e in switches] == [("tr", "best point"), ("tr", "x0")]
    assert r.method == "lm" and switches[-1].kept == "lm" and r.success
    assert fit(bounds=scipy.optimize.Bounds(-20, 20)).success


def test_args_and_kwargs_are_passed():
    def fun(x, t, y, scale=1.0):
        return scale * (ex.model(x, t) - y)

    r = trustfit.least_squares(fun, ex.STARTS[0], args=(ex.T, ex.Y), kwargs={"scale": 2.0})
    assert r.cost == pytest.approx(4 * ex.MINIMUM_COST, rel=1e-6)


def test_singular_jacobian_everywhere_does_not_raise():
    # Two identical columns for ever: J^T J is singular at every point.
    t = np.linspace(0, 1, 5)

    def fun(p):
        return (p[0] + p[1]) * t - 2 * t

    for method in trustfit.METHODS:
        r = fit(fun=fun, x0=[0.0, 0.0], method=method)
        assert r.x.sum() == pytest.approx(2.0, rel=1e-8) and r.cost < 1e-15, method
