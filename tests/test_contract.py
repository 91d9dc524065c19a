"""Contract suite: every method reaches the known answer of every reference problem, with an
analytic Jacobian and with finite differences, and reports it honestly."""
from __future__ import annotations

import numpy as np
import pytest

import trustfit
from reference_problems import REGISTRY

CASES = [(p, m, tuple(x0)) for p in REGISTRY for m in p.methods for x0 in p.starts]
IDS = [f"{p.name}-{m}-{list(x0)}" for p, m, x0 in CASES]


def _assert_answer(problem, r):
    assert r.success, r.message
    assert r.stop_reason.converged and r.stop_reason.usable
    if problem.cost == 0.0:
        assert r.cost < 1e-16
    else:
        assert r.cost == pytest.approx(problem.cost, rel=1e-6)
    if problem.x is not None:
        np.testing.assert_allclose(r.x, problem.x, rtol=problem.x_rtol, atol=1e-9)
    if problem.check is not None:
        assert problem.check(r.x), r.x
    if problem.active is not None:
        np.testing.assert_array_equal(r.active_mask, problem.active)
    lb, ub = np.broadcast_arrays(*problem.bounds)
    assert np.all(r.x >= lb) and np.all(r.x <= ub)


@pytest.mark.parametrize("problem,method,x0", CASES, ids=IDS)
def test_analytic_jacobian(problem, method, x0):
    r = trustfit.least_squares(problem.fun, x0, jac=problem.jac, method=method,
                               bounds=problem.bounds)
    _assert_answer(problem, r)
    assert r.method == method
    assert r.nit == len(r.history)
    # The history ends where the result is, and every record says what kind of step it was.
    last_accepted = [h for h in r.history if h.accepted][-1]
    np.testing.assert_array_equal(last_accepted.x, r.x)
    assert {h.step_kind for h in r.history} <= {"GN", "LM", "QN", "dogleg"}


@pytest.mark.parametrize("problem,method,x0", CASES, ids=IDS)
def test_finite_differences(problem, method, x0):
    r = trustfit.least_squares(problem.fun, x0, method=method, bounds=problem.bounds,
                               jac="3-point")
    _assert_answer(problem, r)
    assert r.nfev_fd > 0


@pytest.mark.parametrize("problem", REGISTRY, ids=[p.name for p in REGISTRY])
def test_result_fields_match_scipy(problem):
    r = trustfit.least_squares(problem.fun, problem.starts[0], jac=problem.jac,
                               bounds=problem.bounds)
    m, n = r.fun.size, r.x.size
    assert r.jac.shape == (m, n) and r.grad.shape == (n,) and r.active_mask.shape == (n,)
    np.testing.assert_allclose(r.fun, problem.fun(r.x))
    np.testing.assert_allclose(r.grad, r.jac.T @ r.fun)
    assert r.cost == pytest.approx(0.5 * r.fun @ r.fun)
    for key in ("x", "cost", "fun", "jac", "grad", "optimality", "active_mask", "nfev", "njev",
                "status", "message", "success", "nit", "method", "stop_reason", "history"):
        assert key in r.keys()
        assert r[key] is not None
    assert r.status == r.stop_reason.status > 0


# --- the eight "lower difficulty" NIST StRD problems, both starts, every method -------------
from trustfit.reference import nist  # noqa: E402

LOWER = [p for p in nist.load_all() if p.difficulty == "lower"]
NIST_CASES = [(p, m, s) for p in LOWER for m in trustfit.METHODS for s in (1, 2)]


@pytest.mark.parametrize("p,method,start", NIST_CASES,
                         ids=[f"{p.name}/{s}-{m}" for p, m, s in NIST_CASES])
def test_nist_lower_difficulty(p, method, start):
    r = trustfit.least_squares(p.residuals, p.starts[start - 1], jac=p.residual_jacobian,
                               method=method)
    assert r.success, r.message
    assert nist.lre(r.x, p.certified) >= 6.0
    assert len(LOWER) == 8


def test_import_loads_neither_scipy_optimize_nor_scipy_sparse():
    """``import trustfit`` costs about ``import numpy, scipy.linalg`` (issue 16): scipy.optimize
    (for FitWarning's base class) and scipy.sparse (for sparse Jacobians) load on first use,
    and FitWarning is still one class, a subclass of SciPy's OptimizeWarning."""
    import subprocess
    import sys

    code = ("import sys, trustfit; "
            "loaded = [m for m in ('scipy.optimize', 'scipy.sparse', 'scipy.stats') "
            "if m in sys.modules]; assert not loaded, loaded; "
            "W = trustfit.FitWarning; from scipy.optimize import OptimizeWarning; "
            "from trustfit.faces.curve_fit import FitWarning; "
            "assert W is FitWarning and issubclass(W, OptimizeWarning); print(W.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "FitWarning"


def test_subpackages_and_model_classes_are_attributes_of_the_package():
    """The README's examples use ``trustfit.models.Model`` and ``trustfit.examples`` after a
    bare ``import trustfit``; they load on first access (``import trustfit`` stays light)."""
    import subprocess
    import sys

    code = ("import sys, trustfit; assert 'sympy' not in sys.modules; "
            "m = trustfit.models.Model('a*exp(-k*t)', independent='t'); "
            "assert trustfit.Model is trustfit.models.Model; "
            "assert trustfit.Parameters is trustfit.models.Parameters; "
            "assert trustfit.examples.T.size == 11; "
            "assert 'models' in dir(trustfit); print(m.param_names)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() in ("['a', 'k']", "('a', 'k')")
    import trustfit
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        trustfit.nonexistent
