"""Every finding of trustfit.diagnose on a problem built to produce it: code, severity, message
and parameters asserted exactly; and no findings where the fit is fine."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import trustfit
from reference_problems import REGISTRY, bound_active, rank_deficient
from trustfit.analysis import diagnostics as dg
from trustfit import examples as ex
from trustfit.core.events import BudgetLeft, RescueKept, RescueNotStarted, RescueRestart
from trustfit.core.result import IterationRecord, StopReason

T, Y = ex.T, ex.Y


def two_exp(t, x1, x2, x3, x4):
    return x3 * np.exp(x1 * t) + x4 * np.exp(x2 * t)


def two_exp_jac(t, x1, x2, x3, x4):
    e1, e2 = np.exp(x1 * t), np.exp(x2 * t)
    return np.column_stack([x3 * t * e1, x4 * t * e2, e1, e2])


def only(result, code):
    found = [f for f in trustfit.diagnose(result) if f.code == code]
    assert len(found) == 1, trustfit.diagnose(result)
    return found[0]


@pytest.fixture(scope="module")
def symmetric_point():
    """The textbook's symmetric stationary point x1 = x2 = a, x3 = x4 = c: the best fit of
    y = 2 c exp(a t), where the two exponentials are the same function."""
    r = trustfit.least_squares(
        lambda p: 2 * p[1] * np.exp(p[0] * T) - Y, [-0.1, 2.0],
        jac=lambda p: np.column_stack([2 * p[1] * T * np.exp(p[0] * T), 2 * np.exp(p[0] * T)]),
        ftol=1e-15, xtol=1e-15, gtol=1e-12)
    a, c = r.x
    assert r.success and r.cost == pytest.approx(7.20406, abs=1e-5)
    return np.array([a, a, c, c])


def test_symmetric_point_rank_and_exchangeable(symmetric_point):
    # gtol=1e-5: the gradient test fires at x0 (|g| ~ 1e-6 there), so the result sits
    # exactly on the symmetric point (equal columns to the last bit).
    r = trustfit.fit(two_exp, T, Y, p0=symmetric_point, jac=two_exp_jac, gtol=1e-5,
                     rescue=False, method="lm")
    # The solver does not certify the stop: the point is degenerate.
    assert r.nit == 0 and r.stop_reason is StopReason.DEGENERATE
    d = r.diagnosis
    assert d.codes == ("rank_deficient", "exchangeable_parameters")
    rank = d.get("rank_deficient")
    assert rank.severity == "error"
    assert rank.message == ("The Jacobian has rank 2 < 4 at the solution: only x1·x2 (here also "
                            "x1 + x2) and x3·x4 (here also x3 + x4) are determined.")
    assert rank.parameters == ("x1", "x2", "x3", "x4")
    ex_ = d.get("exchangeable_parameters")
    assert ex_.severity == "warning"
    assert ex_.message == (
        "The Jacobian columns of (x1, x2) and (x3, x4) are equal up to sign, so the fit cannot "
        "tell the parameters of each pair apart: a symmetric point where Gauss-Newton-type "
        "methods stall.")
    assert ex_.parameters == ("x1", "x2", "x3", "x4")
    assert ex_.advice.startswith("Start from a point where they differ")
    # Without names: indices in the parameters, x[j] in the message.
    plain = dataclasses.replace(r, param_names=None)
    assert only(plain, "exchangeable_parameters").parameters == (0, 1, 2, 3)
    assert "(x[0], x[1]) and (x[2], x[3])" in only(plain, "exchangeable_parameters").message


def test_rank_deficient_product_model_names_the_product():
    r = trustfit.least_squares(rank_deficient.fun, [3.0, 0.5], jac=rank_deficient.jac)
    assert r.success and r.events == ()  # an exact fit: reported, not rescued
    f = only(r, "rank_deficient")
    assert f.message == ("The Jacobian has rank 1 < 2 at the solution: only x[0]·x[1] is "
                         "determined.")
    assert f.parameters == (0, 1)
    assert trustfit.diagnose(r).codes == ("rank_deficient",)
    # With names, and with a finite-difference Jacobian: the cut-off follows its accuracy.
    r = trustfit.fit(lambda t, b0, b1: b0 * b1 * np.exp(-t), np.linspace(0, 4, 9),
                     2 * np.exp(-np.linspace(0, 4, 9)), p0=[3.0, 0.5])
    f = only(r, "rank_deficient")
    assert f.message == "The Jacobian has rank 1 < 2 at the solution: only b0·b1 is determined."
    assert f.parameters == ("b0", "b1")


def test_duplicated_column_names_the_sum():
    t = np.linspace(0, 4, 9)
    r = trustfit.fit(lambda t, a, b: (a + b) * np.exp(-t), t, 2 * np.exp(-t), p0=[1.0, 3.0],
                     jac=lambda t, a, b: np.column_stack([np.exp(-t), np.exp(-t)]))
    f = only(r, "rank_deficient")
    assert f.message == "The Jacobian has rank 1 < 2 at the solution: only a + b is determined."
    assert f.parameters == ("a", "b")
    assert r.x.sum() == pytest.approx(2.0, abs=1e-9)


def test_zero_column_parameter_not_moved_and_undetermined():
    t = np.linspace(0, 4, 9)
    y = 2 * np.exp(-t) + 0.01 * np.cos(7 * t)  # not an exact fit
    r = trustfit.fit(lambda t, a, c: a * np.exp(-t) + 0.0 * c, t, y, p0=[1.0, 5.0])
    assert r.x[1] == 5.0
    assert r.diagnosis.codes == ("rank_deficient", "parameter_not_moved")
    f = only(r, "parameter_not_moved")
    assert f.severity == "warning"
    assert f.message == ("The residuals do not depend on c at the solution (Jacobian column "
                         "zero), so the fit cannot move it; c never moved from the start.")
    assert f.parameters == ("c",)
    f = only(r, "rank_deficient")
    assert f.message == ("The Jacobian has rank 1 < 2 at the solution: the data determine "
                         "nothing about c.")
    assert f.parameters == ("c",)
    # A parameter the model does not use is reported, not rescued.
    assert not any(isinstance(e, (RescueNotStarted, RescueRestart, RescueKept))
                   for e in r.events)


def test_ill_conditioned_states_threshold():
    u = np.linspace(-1, 1, 7)

    def lin(p):
        return p[0] + p[1] * (1 + 1e-9 * u) - (2 + 1e-9 * u)

    r = trustfit.least_squares(lin, [1.0, 0.0],
                               jac=lambda p: np.column_stack([np.ones(7), 1 + 1e-9 * u]))
    f = only(r, "ill_conditioned")
    assert f.severity == "warning" and f.threshold == 1 / np.sqrt(np.finfo(float).eps)
    J = np.column_stack([np.ones(7), 1 + 1e-9 * u])
    assert f.value == pytest.approx(np.linalg.cond(J / np.linalg.norm(J, axis=0)), rel=1e-6)
    assert f.message == ("The column-scaled Jacobian has condition number 3e+09 (threshold "
                         "6.7e+07): about 9 of 16 digits are lost, mostly in x[0] and x[1].")
    assert f.parameters == (0, 1)


def test_not_stationary_on_a_false_convergence():
    # The textbook result from start 1, moved to a point that is not a minimum and labelled
    # as if the step test had fired there.
    good = trustfit.least_squares(ex.residuals, ex.STARTS[0], jac=ex.jacobian)
    x = np.array([-0.5, -0.2, -13.0, 13.0])
    fake = dataclasses.replace(good, x=x, fun=ex.residuals(x), jac=ex.jacobian(x),
                               stop_reason=StopReason.STEP)
    r = ex.residuals(x)
    q, _ = np.linalg.qr(ex.jacobian(x))
    frac = float(np.sum((q.T @ r) ** 2) / (r @ r))
    f = only(fake, "not_stationary")
    assert f.value == pytest.approx(frac, rel=1e-9)
    assert f.message == (
        f"The fit stopped on the step test, but a Gauss-Newton step from there would still "
        f"remove {100 * frac:.3g}% of the cost (threshold 0.01%): this is not a minimum.")
    assert f.parameters == () and f.severity == "error"
    assert dg.check_stationary(good) == []


def test_bad_start_overflowing_trials():
    good = trustfit.least_squares(ex.residuals, ex.STARTS[0], jac=ex.jacobian)
    hist = [IterationRecord(k, good.x, 1.0, 1.0, 1.0, "LM", False,
                            note="non-finite residuals" if k <= 3 else "")
            for k in range(1, 6)]
    bad = dataclasses.replace(good, history=hist, stop_reason=StopReason.NO_PROGRESS,
                              stop_value=1e16)
    f = only(bad, "bad_start")
    assert f.message == ("3 of 5 trial steps gave non-finite residuals (overflow): the start is "
                         "in a region where the model blows up.")
    assert f.severity == "error"
    # Nothing accepted and no convergence: the fit never left x0.
    hist = [dataclasses.replace(h, note="") for h in hist]
    never = dataclasses.replace(bad, history=hist)
    assert only(never, "bad_start").message == (
        "No step from the start was accepted in 5 trials: the fit never left x0.")
    f = only(never, "no_progress")
    assert f.message == ("The damping or trust region reached its limit without an acceptable "
                         "step, so the fit stopped before converging.")


def test_line_search_failed_with_a_wrong_jacobian():
    r = trustfit.least_squares(ex.residuals, ex.STARTS[0], method="gn",
                               jac=lambda x: -ex.jacobian(x), rescue=False)
    assert r.stop_reason is StopReason.LINE_SEARCH_FAILED
    f = only(r, "line_search_failed")
    assert f.message == ("The line search found no step length that decreased the cost, so the "
                         "fit stopped before converging.")
    assert f.severity == "error" and f.parameters == ()


def test_budget_exhausted():
    r = trustfit.least_squares(ex.residuals, ex.STARTS[0], max_nfev=5, method="lm")
    f = only(r, "budget_exhausted")
    assert f.message == ("The budget max_nfev=5 was used up before any convergence test "
                         "fired.")
    # The budget covers the rescue too: no restart.
    assert r.nfev == 5 and r.events == (RescueNotStarted(
        StopReason.MAX_NFEV, ("parameter_not_moved", "not_converged"),
        BudgetLeft("max_nfev", 0, 5)),)
    r = trustfit.least_squares(ex.residuals, ex.STARTS[0], max_iter=3, method="lm")
    assert only(r, "budget_exhausted").message == (
        "The budget max_iter=3 was used up before any convergence test fired.")


def test_at_bound():
    r = trustfit.least_squares(bound_active.fun, [1.0, 0.1], jac=bound_active.jac,
                               bounds=bound_active.bounds)
    f = only(r, "at_bound")
    assert f.message == ("The fit ends with x[1] at its upper bound 0.3: the bound, not the "
                         "data, decides this value.")
    assert f.parameters == (1,)


def test_large_residual_linear_convergence():
    # r(x) = (x + 1, 0.7 x^2 + x - 1): Gauss-Newton converges linearly with rate 0.7
    # (Madsen, Nielsen & Tingleff 2004, Example 3.4 with lambda = 0.7).
    def fun(x):
        return np.array([x[0] + 1, 0.7 * x[0] ** 2 + x[0] - 1])

    def jac(x):
        return np.array([[1.0], [1.4 * x[0] + 1]])

    r = trustfit.least_squares(fun, [1.0], jac=jac, method="lm")
    f = only(r, "large_residual")
    assert f.value == pytest.approx(0.7, abs=0.005)
    assert f.message == ("The last 6 steps shrank only by a factor 0.70 per iteration (linear "
                         "convergence), the mark of residuals that stay large at the solution.")
    assert "method='hybrid'" in f.advice
    r = trustfit.least_squares(fun, [1.0], jac=jac, method="hybrid")
    assert "large_residual" not in r.diagnosis.codes


@pytest.mark.parametrize("problem", [p for p in REGISTRY if p.name in
                                     ("textbook", "rosenbrock", "zero_jacobian_start")],
                         ids=lambda p: p.name)
def test_no_findings_on_good_fits(problem):
    r = trustfit.least_squares(problem.fun, problem.starts[0], jac=problem.jac)
    assert len(r.diagnosis) == 0 and str(r.diagnosis) == "No findings."


def test_diagnose_is_pure_and_ordered(symmetric_point):
    r = trustfit.least_squares(ex.residuals, symmetric_point, jac=ex.jacobian, gtol=1e-5,
                               rescue=False)
    before = (r.x.copy(), r.nfev, len(r.history))
    d1, d2 = trustfit.diagnose(r, ex.PARAM_NAMES), trustfit.diagnose(r, ex.PARAM_NAMES)
    assert d1 == d2 and (r.x.tolist(), r.nfev, len(r.history)) == (before[0].tolist(),
                                                                  *before[1:])
    severities = [f.severity for f in d1]
    assert severities == sorted(severities, key=dg.SEVERITIES.index)
    with pytest.raises(ValueError, match="param_names has 2 names for 4 parameters"):
        trustfit.diagnose(r, ("a", "b"))
