"""Issue 12, items 7 and 8: promises that held only on friendly input.

* ``max_nfev`` is a hard cap on ``nfev`` (residual evaluations; finite-difference ones are
  ``nfev_fd``, outside the budget as in SciPy >= 1.16), polish and restarts included;
* a cost that overflows at ``x0`` is a ValueError naming the residuals; a start trustfit
  chose itself never raises;
* ``pcov`` does not change when ``sigma`` is scaled uniformly;
* complex ``xdata``/``ydata``/``sigma``/``jac`` output are a ValueError naming the argument;
  ``jac='cs'`` works; a transposed Jacobian is refused;
* ``--starts`` with a progress callback survives a start that does not converge.
"""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import trustfit
from trustfit import examples as ex
from trustfit.core.events import RescueRestart
from trustfit.core.result import StopReason
from trustfit.analysis.uncertainty import covariance

T = np.linspace(0.0, 5.0, 30)
Y = 2.0 * np.exp(-0.7 * T) + 0.5 + 0.01 * np.sin(7.0 * T)  # not an exact fit: s2 > 0


def decay(t, a, b, c):
    return a * np.exp(-b * t) + c


def decay_jac(t, a, b, c):
    e = np.exp(-b * t)
    return np.column_stack([e, -a * t * e, np.ones_like(t)])


class Counted:
    """The textbook residuals, counting every call (finite differences included)."""

    def __init__(self):
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        return ex.residuals(x)


# --- max_nfev ----------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(max_nfev=st.integers(1, 40), method=st.sampled_from(trustfit.METHODS),
       start=st.sampled_from(range(len(ex.STARTS))), jac=st.sampled_from(("2-point", "an")),
       rescue=st.booleans())
def test_max_nfev_is_a_hard_cap(max_nfev, method, start, jac, rescue):
    fun = Counted()
    r = trustfit.least_squares(fun, ex.STARTS[start], method=method, max_nfev=max_nfev,
                               jac=ex.jacobian if jac == "an" else jac, rescue=rescue)
    assert r.nfev <= max_nfev
    # Every call of fun is accounted for: nfev plus the finite-difference evaluations.
    assert fun.calls == r.nfev + r.nfev_fd
    if not r.success:
        assert r.stop_reason is not StopReason.MAX_NFEV or r.nfev == max_nfev
    if r.stop_reason is StopReason.MAX_NFEV:  # the user's budget, not a stage's share of it
        assert r.message.endswith(f"max_nfev={max_nfev} was used up.")


def test_gauss_newton_line_search_stays_within_three_evaluations():
    # The reported case: gn with max_nfev=3 used 4 (its line search evaluated past the
    # budget); from this start it used 20.
    fun = Counted()
    r = trustfit.least_squares(fun, [-1.0, -2.0, 1.0, -1.0], method="gn", max_nfev=3,
                               rescue=False)
    assert r.nfev == 3 and fun.calls == 3 + r.nfev_fd
    assert r.stop_reason is StopReason.MAX_NFEV and not r.success
    assert r.history[-1].note == "max_nfev reached: the trial point was not evaluated"


def test_polish_stays_within_the_budget():
    # Unbounded, this fit converges after 9 evaluations and the polish adds more; with the
    # budget at the convergence point the polish takes no step.
    free = trustfit.least_squares(ex.residuals, ex.STARTS[0], jac=ex.jacobian, method="lm",
                                  rescue=False)
    polish_steps = sum(h.note == "polish" for h in free.history)
    assert polish_steps >= 1
    loop_nfev = free.nfev - polish_steps
    r = trustfit.least_squares(ex.residuals, ex.STARTS[0], jac=ex.jacobian, method="lm",
                               rescue=False, max_nfev=loop_nfev)
    assert r.nfev == loop_nfev
    assert not any(h.note == "polish" for h in r.history)


def test_curve_fit_and_multistart_respect_max_nfev():
    calls = [0]

    def f(t, x1, x2, x3, x4):
        calls[0] += 1
        return ex.model(np.array([x1, x2, x3, x4]), t)

    r = trustfit.fit(f, ex.T, ex.Y, p0=ex.STARTS[2], max_nfev=25)
    assert r.nfev <= 25 and calls[0] == r.nfev + r.nfev_fd
    r = trustfit.least_squares(ex.residuals, ex.STARTS[2], starts=4, max_nfev=30,
                               method="gn")
    assert r.nfev <= 30  # the best run and its rescue together


# --- non-finite start --------------------------------------------------------------------------
def test_cost_overflow_at_x0_is_a_value_error_naming_the_residuals():
    def fun(x):
        return np.array([1e200 * x[0], 1.0, 2e200, 3.0])

    with pytest.raises(ValueError, match=r"cost 1/2 \|\|fun\(x0\)\|\|\^2 overflows at x0: "
                                         r"the residuals at indices \[0, 2\] reach 2e\+200"):
        trustfit.least_squares(fun, [1.0])


def test_cost_overflow_through_curve_fit_sigma():
    with pytest.raises(ValueError, match=r"indices \[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, \.\.\. "
                                         r"\(30 in all\)\]"):
        trustfit.curve_fit(decay, T, Y, p0=[1.0, 1.0, 0.0], sigma=np.full(T.size, 1e-200))


def test_a_start_trustfit_chose_is_rejected_not_raised():
    # exp(b t) at t = 50 overflows for b > 14.2, and its square for b > 7.1: the multi-start
    # design around x0 = [1, 5] reaches both.
    from trustfit.strategies.multistart import design_points

    t = np.linspace(0.0, 50.0, 30)
    y = 3.0 * np.exp(-0.2 * t)

    def fun(p):
        return p[0] * np.exp(p[1] * t) - y

    x0 = np.array([1.0, 5.0])
    starts = design_points(x0, np.full(2, -np.inf), np.full(2, np.inf), 16)
    with np.errstate(over="ignore"):
        costs = [0.5 * float(fun(p) @ fun(p)) for p in starts]
    assert sum(not np.isfinite(c) for c in costs) >= 3
    r = trustfit.least_squares(fun, x0, starts=16, method="lm")
    assert r.success and r.x == pytest.approx([3.0, -0.2], rel=1e-6)
    with pytest.raises(ValueError, match="overflows at x0"):
        trustfit.least_squares(fun, [1.0, 10.0])  # the caller's own x0 still raises


# --- covariance --------------------------------------------------------------------------------
@settings(max_examples=30, deadline=None)
@given(exponent=st.integers(-150, 150), absolute=st.booleans())
def test_pcov_does_not_depend_on_a_uniform_sigma_scale(exponent, absolute):
    popt, pcov = trustfit.curve_fit(decay, T, Y, p0=[1.0, 1.0, 0.0], jac=decay_jac)
    s = 10.0 ** exponent
    p2, c2 = trustfit.curve_fit(decay, T, Y, p0=[1.0, 1.0, 0.0], jac=decay_jac,
                                sigma=np.full(T.size, s), absolute_sigma=absolute)
    np.testing.assert_allclose(p2, popt, rtol=1e-9)
    if absolute:  # pcov = (J^T J)^-1 with J = J_1 / s: scales by s^2
        expected = covariance(trustfit.fit(decay, T, Y, p0=popt, jac=decay_jac),
                              absolute_sigma=True).matrix * s * s
    else:
        expected = pcov
    np.testing.assert_allclose(c2, expected, rtol=1e-8)


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e200, 1e300])
def test_covariance_at_extreme_scales(scale):
    # sigma = 1e200 made the cost underflow to 0 and pcov == 0 ("rank 0"). The covariance
    # of the same point with residuals and Jacobian scaled together is the same matrix.
    r = trustfit.fit(decay, T, Y, p0=[2.0, 0.7, 0.5], jac=decay_jac)
    reference = covariance(r)
    with np.errstate(all="ignore"):
        r = dataclasses.replace(r, fun=r.fun * scale, jac=r.jac * scale, cost=0.5 * float(
            (r.fun * scale) @ (r.fun * scale)))
    scaled = covariance(r)
    assert scaled.rank == 3
    np.testing.assert_allclose(scaled.matrix, reference.matrix, rtol=1e-12)
    np.testing.assert_allclose(scaled.singular_values, reference.singular_values, rtol=1e-12)


def test_covariance_is_thin_in_memory():
    # The full SVD needed an m x m array: 74.5 GiB at m = 1e5. Now at most a few copies of J.
    import tracemalloc

    m = 200_000
    t = np.linspace(0.0, 10.0, m)
    r = trustfit.fit(decay, t, decay(t, 2.0, 0.7, 0.5) + 1e-3 * np.sin(50 * t),
                     p0=[2.0, 0.7, 0.5], jac=decay_jac)
    tracemalloc.start()
    try:
        cov = covariance(r)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 2.5 * r.jac.nbytes
    se = np.sqrt(np.diag(cov.matrix))
    # Against the normal equations, which are fine for this well-conditioned J.
    expected = np.sqrt(np.diag(np.linalg.inv(r.jac.T @ r.jac)) * 2 * r.cost / (m - 3))
    np.testing.assert_allclose(se, expected, rtol=1e-9)


# --- complex and malformed inputs -------------------------------------------------------------
@pytest.mark.parametrize("name", ["xdata", "ydata", "sigma"])
def test_complex_inputs_are_a_value_error_naming_the_argument(name):
    args = {"xdata": T, "ydata": Y, "sigma": np.ones(T.size)}
    args[name] = args[name] + 0.5j
    with pytest.raises(ValueError, match=rf"^{name} must be real numbers, got complex values"):
        trustfit.curve_fit(decay, p0=[1.0, 1.0, 0.0], **args)


def test_complex_jacobian_output_is_a_value_error():
    with pytest.raises(ValueError, match=r"^jac returned complex values"):
        trustfit.curve_fit(decay, T, Y, p0=[1.0, 1.0, 0.0],
                           jac=lambda *a: decay_jac(*a) + 0j)
    with pytest.raises(ValueError, match=r"^jac returned complex values"):
        trustfit.least_squares(ex.residuals, ex.STARTS[0],
                               jac=lambda x: ex.jacobian(x).astype(complex))


def test_complex_model_output_is_a_value_error():
    with pytest.raises(ValueError, match=r"^f returned complex values"):
        trustfit.curve_fit(lambda t, a, b, c: decay(t, a, b, c) + 0j, T, Y,
                           p0=[1.0, 1.0, 0.0])


def test_transposed_jacobian_is_refused():
    with pytest.raises(ValueError, match=r"^jac must return an array of shape \(m, n\) = "
                                         r"\(30, 3\), but it returned shape \(3, 30\) "
                                         r"\(the transpose"):
        trustfit.curve_fit(decay, T, Y, p0=[1.0, 1.0, 0.0],
                           jac=lambda *a: decay_jac(*a).T)
    with pytest.raises(ValueError, match=r"returned shape \(90,\)"):
        trustfit.curve_fit(decay, T, Y, p0=[1.0, 1.0, 0.0],
                           jac=lambda *a: decay_jac(*a).ravel())


@pytest.mark.parametrize("sigma", [None, "1d", "2d"])
def test_complex_step_jacobian_matches_the_analytic_one(sigma):
    s = {None: None, "1d": 0.1 + 0.05 * T,
         "2d": np.diag((0.1 + 0.05 * T) ** 2) + 1e-4 * np.ones((T.size, T.size))}[sigma]
    cs = trustfit.fit(decay, T, Y, p0=[1.0, 1.0, 0.0], jac="cs", sigma=s)
    an = trustfit.fit(decay, T, Y, p0=[1.0, 1.0, 0.0], jac=decay_jac, sigma=s)
    assert cs.success and cs.jac_method == "cs"
    np.testing.assert_allclose(cs.x, an.x, rtol=1e-12)
    # The complex-step Jacobian at the solution against the analytic one there.
    exact = trustfit.fit(decay, T, Y, p0=cs.x, jac=decay_jac, sigma=s, max_nfev=1)
    np.testing.assert_allclose(cs.jac, exact.jac, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(trustfit.curve_fit(decay, T, Y, p0=[1.0, 1.0, 0.0], jac="cs",
                                                  sigma=s)[1],
                               trustfit.curve_fit(decay, T, Y, p0=[1.0, 1.0, 0.0],
                                                  jac=decay_jac, sigma=s)[1], rtol=1e-10)


# --- --starts with progress (item 7) ----------------------------------------------------------
def test_multistart_with_progress_survives_a_rescue():
    # The best of these starts stalls (gn from the symmetric point), so the rescue restarts
    # it through run_once(start, nfev_left, iter_left): a TypeError before.
    seen = []
    r = trustfit.multistart(ex.residuals, ex.STARTS[2], starts=4, method="gn",
                            progress=lambda done, total: seen.append((done, total)))
    assert seen == [(k, 4) for k in range(1, 5)]  # the design runs, not the restarts
    assert any(isinstance(e, RescueRestart) and e.index == 1 for e in r.events)
    assert r.nfev <= 100 * 4 * 5


@pytest.mark.parametrize("options", [["--starts", "16", "--max-nfev", "5"],
                                     ["--starts", "4", "--method", "gn"]])
def test_cli_starts_when_a_start_does_not_converge(tmp_path, options):
    pytest.importorskip("sympy")
    data = tmp_path / "textbook.csv"
    data.write_text("t,y\n" + "\n".join(f"{t:g},{y:g}" for t, y in zip(ex.T, ex.Y)) + "\n")
    out = tmp_path / "fit.json"
    p = subprocess.run([sys.executable, "-m", "trustfit", "fit", str(data), "--model",
                        ex.EXPRESSION, "--x", "t", "--y", "y", "--p0",
                        "x1=0,x2=0,x3=0,x4=0" if "gn" in options else "x1=-1,x2=1,x3=-10,x4=10",
                        *options, "--json", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 1, p.stderr  # not converged, and said so: not an internal error
    assert "Traceback" not in p.stderr and "internal error" not in p.stderr
    d = json.loads(out.read_text())
    assert d["success"] is False
    if "--max-nfev" in options:
        assert d["nfev"] <= 5
