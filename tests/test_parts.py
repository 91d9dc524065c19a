"""Unit tests of each part on hand-built cases: damping rules, BFGS, stopping tests, line
search, dogleg, the SVD solves and the finite differences."""
from __future__ import annotations

import math

import numpy as np
import pytest

from trustfit import StopReason
from trustfit.core import stopping
from trustfit.core.differentiation import finite_difference_jacobian
from trustfit.globalize import ArmijoBacktracking
from trustfit.core.linalg import SVDSolver, solve_spd
from trustfit.core.problem import Problem
from trustfit.steps.base import GaussNewtonModel, Iterate, Step, free_variables
from trustfit.steps.damped import marquardt_update, nielsen_update
from trustfit.steps.dogleg import dogleg_step
from trustfit.steps.hybrid import bfgs_update

INF = np.full(1, np.inf)


# --- damping rules ---------------------------------------------------------------------------
@pytest.mark.parametrize("rho,factor", [(1.0, 1 / 3), (0.5, 1.0), (0.75, 0.875), (0.9, 0.488),
                                        (0.25, 1.125)])
def test_nielsen_success(rho, factor):
    mu, nu = nielsen_update(2.0, 8.0, rho)
    assert mu == pytest.approx(2.0 * factor) and nu == 2.0


def test_nielsen_failure_doubles_nu():
    assert nielsen_update(2.0, 2.0, -1.0) == (4.0, 4.0)
    assert nielsen_update(4.0, 4.0, 0.0) == (16.0, 8.0)


@pytest.mark.parametrize("rho,mu", [(-1.0, 2.0), (0.1, 2.0), (0.5, 1.0), (0.8, 1 / 3)])
def test_marquardt(rho, mu):
    assert marquardt_update(1.0, rho) == pytest.approx(mu)


# --- BFGS ------------------------------------------------------------------------------------
def test_bfgs_secant_condition_and_symmetry():
    B = np.eye(3)
    h = np.array([1.0, 0.5, -0.2])
    y = np.array([2.0, 0.3, 0.1])
    Bn = bfgs_update(B, h, y)
    np.testing.assert_allclose(Bn @ h, y)
    np.testing.assert_allclose(Bn, Bn.T)
    assert np.all(np.linalg.eigvalsh(Bn) > 0)


def test_bfgs_skips_without_curvature():
    B = np.eye(2)
    assert bfgs_update(B, np.array([1.0, 0.0]), np.array([-1.0, 0.0])) is B


# --- stopping tests --------------------------------------------------------------------------
def test_gradient_test():
    assert stopping.gradient_test(1e-9, 1e-8) == (StopReason.GRADIENT, 1e-9)
    assert stopping.gradient_test(1e-7, 1e-8) == (None, 1e-7)
    assert stopping.gradient_test(0.0, None) == (None, 0.0)


def test_step_test_relative_and_at_zero():
    assert stopping.step_test(1e-9, 1.0, 1e-8)[0] is StopReason.STEP
    assert stopping.step_test(2e-8, 1.0, 1e-8)[0] is None
    # at x = 0 the "+ xtol" term makes the threshold xtol^2
    assert stopping.step_test(5e-17, 0.0, 1e-8)[0] is StopReason.STEP
    assert stopping.step_test(2e-16, 0.0, 1e-8)[0] is None


def test_cost_test_minpack_rule():
    # actual and predicted relative reductions both <= ftol, agreeing to a factor 2
    assert stopping.cost_test(1e-10, 1e-10, 1.0, 1e-8) == (StopReason.COST, 1e-10)
    assert stopping.cost_test(-1e-10, 2e-10, 1.0, 1e-8)[0] is StopReason.COST  # rejected, noise
    assert stopping.cost_test(1e-10, 1e-6, 1.0, 1e-8)[0] is None    # model promises more
    assert stopping.cost_test(1e-6, 1e-10, 1.0, 1e-8)[0] is None    # actual gain too large
    assert stopping.cost_test(3e-10, 1e-10, 1.0, 1e-8)[0] is None   # disagree by more than 2
    assert stopping.cost_test(1e-10, 1e-10, 0.0, 1e-8)[0] is None   # exact fit
    assert stopping.cost_test(1e-10, 1e-10, 1.0, None)[0] is None


def test_rounding_test():
    # a tiny promised gain that the actual change contradicts: rounding level
    assert stopping.rounding_test(-3e-13, 1e-12, 1.0, 1e-10) == (StopReason.ROUNDING, 1e-12)
    assert stopping.rounding_test(5e-12, 1e-12, 1.0, 1e-10)[0] is StopReason.ROUNDING  # rho 5
    assert stopping.rounding_test(0.9e-12, 1e-12, 1.0, 1e-10)[0] is None  # model agrees
    assert stopping.rounding_test(-1e-9, 1e-8, 1.0, 1e-10)[0] is None     # promise too large
    assert stopping.rounding_test(-1e-13, 1e-12, 1.0, 0.0)[0] is None     # switched off


def test_certify():
    rng = np.random.default_rng(1)
    J = rng.normal(size=(10, 3))
    x = np.ones(3)
    r_stationary = (np.eye(10) - J @ np.linalg.pinv(J)) @ rng.normal(size=10)
    assert stopping.certify(J, r_stationary, 1.0, x, x)[0] is None
    assert stopping.certify(J, r_stationary + 1e-3 * J[:, 0], 1.0, x, x)[0] is StopReason.STALLED
    # ... unless the user asked for a loose tolerance: stationary to about its square root
    assert stopping.certify(J, r_stationary + 1e-3 * J[:, 0], 1.0, x, x, 1e-4)[0] is None
    J_dup = J.copy()
    J_dup[:, 2] = J_dup[:, 1]
    assert stopping.certify(J_dup, r_stationary, 1.0, x, x)[0] is StopReason.DEGENERATE
    J_zero = J.copy()
    J_zero[:, 0] = 1e-20
    assert stopping.certify(J_zero, r_stationary, 1.0, x, x) == (StopReason.DEGENERATE, math.inf)
    # an exact fit needs no certificate, whatever the Jacobian; "exact" is relative to the
    # model's size, not to the starting cost
    tiny = 1e-12 * r_stationary
    assert stopping.certify(J_dup, tiny, 0.5 * tiny @ tiny, x, x)[0] is None
    assert stopping.certify(1e30 * J_dup, 1e25 * r_stationary, 1e50, x, x)[0] is StopReason.DEGENERATE


def test_budget_test():
    assert stopping.budget_test(10, 10, 0, None) == (StopReason.MAX_NFEV, 10.0)
    assert stopping.budget_test(1, 10, 5, 5) == (StopReason.MAX_ITER, 5.0)
    assert stopping.budget_test(1, 10, 4, 5)[0] is None


# --- Armijo line search ----------------------------------------------------------------------
def _iterate(x, f, J, lb=-INF, ub=INF):
    return Iterate(np.asarray(x, float), np.asarray(f, float), np.asarray(J, float),
                   np.ones(len(x)), lb, ub)


def test_armijo_halves_until_sufficient_decrease():
    # r(x) = x, F = x^2/2, at x = 1 with the over-long step h = -4: alpha = 1 lands at -3
    # (F = 4.5), 1/2 at -1 (F = 0.5, not below 0.5 - c*...), 1/4 at 0 (F = 0): accepted.
    problem = Problem(lambda x: x, 1, "2-point", -INF, INF)
    it = _iterate([1.0], [1.0], [[1.0]])
    step = Step(np.array([-4.0]), "GN", GaussNewtonModel(it.g, it.J))
    out = ArmijoBacktracking().try_step(problem, it, step)
    assert out.accepted and out.step[0] == -1.0 and out.trial.cost == 0.0
    assert problem.nfev == 3
    assert out.predicted == 0.5  # the step's own model: -(g s + |J s|^2 / 2) at s = -1


def test_armijo_fails_on_ascent_direction_without_evaluating():
    problem = Problem(lambda x: x, 1, "2-point", -INF, INF)
    it = _iterate([1.0], [1.0], [[1.0]])
    out = ArmijoBacktracking().try_step(problem, it, Step(np.array([1.0]), "GN", None))
    assert out.line_search_failed and not out.accepted and problem.nfev == 0


def test_armijo_treats_nonfinite_as_no_decrease():
    problem = Problem(lambda x: np.where(x < -0.5, np.nan, x), 1, "2-point", -INF, INF)
    it = _iterate([1.0], [1.0], [[1.0]])
    out = ArmijoBacktracking().try_step(problem, it, Step(np.array([-4.0]), "GN",
                                                          GaussNewtonModel(it.g, it.J)))
    assert out.accepted and out.step[0] == -1.0


# --- dogleg ----------------------------------------------------------------------------------
def test_dogleg_takes_gauss_newton_inside_region():
    z = dogleg_step(np.array([0.3, 0.4]), np.array([1.0, 0.0]), 1.0, 1.0)
    np.testing.assert_array_equal(z, [0.3, 0.4])


def test_dogleg_cuts_steepest_descent_at_radius():
    # alpha = ||g||^2/||Jg||^2 = 4/1 * ... large Cauchy step: clipped to radius along -g
    z = dogleg_step(np.array([10.0, 0.0]), np.array([2.0, 0.0]), 0.5, 1.0)
    np.testing.assert_allclose(z, [-1.0, 0.0])


def test_dogleg_interpolates_to_the_boundary():
    g = np.array([1.0, 0.0])
    z_gn = np.array([0.0, 3.0])
    z = dogleg_step(z_gn, g, 2.0, 1.0)  # Cauchy step a = -0.5 g, inside the radius
    assert np.linalg.norm(z) == pytest.approx(1.0)
    # z lies on the segment from a = (-0.5, 0) to z_gn
    a = np.array([-0.5, 0.0])
    beta = (z - a)[1] / (z_gn - a)[1]
    np.testing.assert_allclose(z, a + beta * (z_gn - a))
    assert 0 < beta < 1


# --- linear algebra --------------------------------------------------------------------------
def test_gauss_newton_minimum_norm_on_rank_deficient():
    J = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])  # rank 1
    r = np.array([1.0, 2.0, 3.0])
    s = SVDSolver(J, r)
    assert s.rank == 1
    np.testing.assert_allclose(s.gauss_newton(), [-0.5, -0.5])  # minimum norm h1 + h2 = -1


def test_damped_equals_normal_equations_on_well_conditioned():
    rng = np.random.default_rng(0)
    J, r = rng.normal(size=(8, 3)), rng.normal(size=8)
    h = SVDSolver(J, r).damped(0.7)
    np.testing.assert_allclose(h, np.linalg.solve(J.T @ J + 0.7 * np.eye(3), -J.T @ r))


def test_solve_spd_falls_back_when_not_definite():
    B = np.array([[1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_allclose(solve_spd(B, np.array([2.0, 0.0])), [2.0, 0.0])


def test_free_variables_hold_only_outward_gradients():
    x = np.array([0.0, 0.0, 1.0, 0.5])
    g = np.array([1.0, -1.0, -1.0, 1.0])
    lb, ub = np.zeros(4), np.ones(4)
    np.testing.assert_array_equal(free_variables(x, g, lb, ub), [False, True, False, True])


# --- finite differences ----------------------------------------------------------------------
def _tiny(x):
    # Hahn1-like scale: parameters about 1e-7 that matter as much as any other
    t = np.linspace(1, 5, 7)
    return 1e7 * x[0] * t + np.exp(x[1] * 1e7 * t)


def _tiny_jac(x):
    t = np.linspace(1, 5, 7)
    return np.column_stack([1e7 * t, 1e7 * t * np.exp(x[1] * 1e7 * t)])


@pytest.mark.parametrize("method,rtol", [("2-point", 1e-6), ("3-point", 1e-8), ("cs", 1e-14)])
def test_relative_steps_on_tiny_parameters(method, rtol):
    x = np.array([3e-7, -2e-7])
    J, evals = finite_difference_jacobian(_tiny, x, _tiny(x), method, -np.inf * np.ones(2),
                                          np.inf * np.ones(2))
    exact = _tiny_jac(x)
    column_error = np.linalg.norm(J - exact, axis=0) / np.linalg.norm(exact, axis=0)
    assert np.all(column_error < rtol), column_error
    assert evals == {"2-point": 2, "3-point": 4, "cs": 2}[method]


def test_absolute_step_floor_would_fail_there():
    # SciPy's step sqrt(eps) * max(1, |x|) = 1.5e-8 is 5 % of these parameters: J is off by
    # far more than the relative step's 1e-6. This is why trustfit's steps are relative.
    x = np.array([3e-7, -2e-7])
    h = np.sqrt(np.finfo(float).eps)
    col = (_tiny(x + [0.0, h]) - _tiny(x)) / h
    assert np.max(np.abs(col / _tiny_jac(x)[:, 1] - 1)) > 1e-2


@pytest.mark.parametrize("method", ["2-point", "3-point"])
def test_differences_stay_inside_bounds(method):
    seen = []

    def fun(x):
        seen.append(x.copy())
        return np.array([x[0] ** 2, x[0] * x[1]])

    x = np.array([1.0, 2.0])
    lb, ub = np.array([0.0, 0.0]), np.array([1.0, 2.0])  # x on both upper bounds
    J, _ = finite_difference_jacobian(fun, x, fun(x), method, lb, ub)
    np.testing.assert_allclose(J, [[2.0, 0.0], [2.0, 1.0]], rtol=1e-6)
    assert all(np.all(p <= ub) and np.all(p >= lb) for p in seen)


def test_complex_step_needs_complex_propagation():
    with pytest.raises(ValueError, match="jac='cs' needs a fun that propagates complex"):
        finite_difference_jacobian(lambda x: np.abs(x).astype(float), np.ones(2), np.ones(2),
                                   "cs", -np.inf * np.ones(2), np.inf * np.ones(2))


def test_solve_is_least_squares_with_its_defaults_and_no_rescue():
    """The profile intervals re-fit through ``trustfit.solve.methods.solve`` (the strategies
    may not call the face): it must be ``least_squares(fun, x0, bounds=..., rescue=False)``
    exactly, evaluation for evaluation (NIST Misra1a, start 1, and a bounded variant)."""
    from trustfit import least_squares
    from trustfit.reference import nist
    from trustfit.solve.methods import solve

    p = nist.load("Misra1a")
    fun = p.residuals
    for bounds in ((-np.inf, np.inf), ([0.0, 0.0], [600.0, 1e-3])):
        ours = solve(fun, p.starts[0], bounds)
        face = least_squares(fun, p.starts[0], bounds=bounds, rescue=False)
        assert ours.stop_reason is face.stop_reason
        assert (ours.nfev, ours.nfev_fd, ours.nit) == (face.nfev, face.nfev_fd, face.nit)
        np.testing.assert_array_equal(ours.x, face.x)
        assert ours.jac_method == face.jac_method
