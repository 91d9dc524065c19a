"""The rescue layer: the default call reaches the textbook's global minimum from all three
article starts through least_squares and curve_fit; converged runs are left alone."""
from __future__ import annotations

import numpy as np
import pytest

import trustfit
from reference_problems import REGISTRY
from trustfit import examples as ex
from trustfit.reference import nist
from trustfit.core.events import (RescueKept, RescueNotStarted, RescueOutOfBudget, RescueRestart,
                                  RescueStallRepeated)
from trustfit.strategies.rescue import triggers
from trustfit.core.result import StopReason


def two_exp(t, x1, x2, x3, x4):
    return x3 * np.exp(x1 * t) + x4 * np.exp(x2 * t)


STARTS = [tuple(s) for s in ex.STARTS]


@pytest.mark.parametrize("x0", STARTS, ids=str)
def test_default_least_squares_reaches_global_minimum(x0):
    r = trustfit.least_squares(ex.residuals, x0)
    assert r.success
    assert r.cost == pytest.approx(ex.MINIMUM_COST, abs=5e-8)
    # Either ordering of the two exponentials.
    assert np.allclose(np.sort(r.x[:2]), [-0.4622, -0.2085], atol=2e-4)


@pytest.mark.parametrize("x0", STARTS, ids=str)
def test_default_curve_fit_reaches_global_minimum(x0):
    popt, pcov = trustfit.curve_fit(two_exp, ex.T, ex.Y, p0=x0)
    cost = 0.5 * np.sum((two_exp(ex.T, *popt) - ex.Y) ** 2)
    assert cost == pytest.approx(ex.MINIMUM_COST, abs=5e-8)
    assert np.all(np.isfinite(pcov)) and np.all(np.diag(pcov) > 0)


@pytest.mark.parametrize("method", ["lm", "hybrid"])
@pytest.mark.parametrize("jac", ["2-point", ex.jacobian], ids=["fd", "analytic"])
def test_symmetric_start_escapes_for_lm_and_hybrid(method, jac):
    stalled = trustfit.least_squares(ex.residuals, ex.STARTS[2], method=method, jac=jac,
                                     rescue=False)
    assert stalled.cost > 5.0 and not rescue_events(stalled)
    r = trustfit.least_squares(ex.residuals, ex.STARTS[2], method=method, jac=jac)
    assert r.cost == pytest.approx(ex.MINIMUM_COST, abs=5e-8)


RESCUE_EVENTS = (RescueNotStarted, RescueRestart, RescueOutOfBudget, RescueStallRepeated,
                 RescueKept)


def rescue_events(r):
    return [e for e in r.events if isinstance(e, RESCUE_EVENTS)]


def only(events, kind):
    found = [e for e in events if isinstance(e, kind)]
    assert len(found) == 1, events
    return found[0]


def test_rescue_records_what_it_did():
    stalled = trustfit.least_squares(ex.residuals, ex.STARTS[2], rescue=False)
    r = trustfit.least_squares(ex.residuals, ex.STARTS[2])
    assert len(rescue_events(r)) == 2
    restart = only(r.events, RescueRestart)
    assert restart.index == 1 and restart.previous_stop is stalled.stop_reason
    assert restart.previous_cost == pytest.approx(stalled.cost, rel=1e-12)
    assert restart.triggers == ("exchangeable_parameters",)
    assert restart.origin == "x0" and restart.pairs == ((0, 1), (2, 3))
    assert restart.best_so_far and restart.cost == r.cost and restart.stop is r.stop_reason
    # jittered from x0 = 0 with the pairs pushed apart: no two parameters equal any more
    assert len(set(restart.start)) == 4 and max(map(abs, restart.start)) <= 1.0
    kept = only(r.events, RescueKept)
    assert (kept.kept, kept.restarts, kept.cost) == (1, 1, r.cost)
    assert kept.cost == pytest.approx(ex.MINIMUM_COST, abs=5e-8)
    assert str(kept) == "rescue kept restart 1 (cost 0.0255953) after 1 restart."
    # The history continues across the restart, each record marked with its run, and a note
    # where the restart begins.
    assert r.nit == len(r.history) == stalled.nit + (r.nit - stalled.nit)
    assert [h.iteration for h in r.history] == list(range(1, r.nit + 1))
    assert [h.restart for h in r.history] == [0] * stalled.nit + [1] * (r.nit - stalled.nit)
    first = r.history[stalled.nit]
    assert first.note.startswith("rescue restart 1 from [")
    assert [h.note for h in r.history[:stalled.nit]] == [h.note for h in stalled.history]
    assert r.nfev > stalled.nfev
    np.testing.assert_array_equal(r.x0, ex.STARTS[2])
    assert "rescue kept restart 1" in r.report()
    assert "rescue restart 1:" in r.report(full=True)


def test_rescue_is_deterministic_and_seeded():
    a = trustfit.least_squares(ex.residuals, ex.STARTS[2])
    b = trustfit.least_squares(ex.residuals, ex.STARTS[2])
    assert a.events == b.events
    np.testing.assert_array_equal(a.x, b.x)
    c = trustfit.least_squares(ex.residuals, ex.STARTS[2], seed=1)
    assert rescue_events(c)[0] != rescue_events(a)[0]


@pytest.mark.parametrize("problem", REGISTRY, ids=lambda p: p.name)
def test_converged_runs_are_untouched(problem):
    for x0 in problem.starts:
        on = trustfit.least_squares(problem.fun, x0, jac=problem.jac, bounds=problem.bounds)
        off = trustfit.least_squares(problem.fun, x0, jac=problem.jac, bounds=problem.bounds,
                                     rescue=False)
        assert on.events == off.events and on.nfev == off.nfev and on.nit == off.nit
        np.testing.assert_array_equal(on.x, off.x)


def test_converged_nist_runs_are_untouched():
    """From NIST's near start, every run that converged at a stationary point is returned
    exactly as without rescue (and rescue fires on nothing else there)."""
    compared = 0
    for p in nist.load_all():
        off = trustfit.least_squares(p.residuals, p.starts[1], jac=p.residual_jacobian,
                                     rescue=False)
        if triggers(off):
            continue
        on = trustfit.least_squares(p.residuals, p.starts[1], jac=p.residual_jacobian)
        assert on.events == off.events and on.nfev == off.nfev, p.name
        np.testing.assert_array_equal(on.x, off.x)
        compared += 1
    assert compared >= 20


def test_callback_stop_is_not_rescued():
    r = trustfit.least_squares(ex.residuals, ex.STARTS[2], callback=lambda x: True)
    assert r.stop_reason is StopReason.CALLBACK and r.nit == 1 and not rescue_events(r)


def test_rescue_argument_is_validated():
    with pytest.raises(TypeError, match="rescue must be True or False"):
        trustfit.least_squares(ex.residuals, ex.STARTS[0], rescue="yes")
    with pytest.raises(TypeError, match="seed must be a whole number"):
        trustfit.least_squares(ex.residuals, ex.STARTS[0], seed=1.5)


def test_mgh17_far_start_coalesced_exponentials_are_separated():
    """NIST MGH17 from start 1 with forward differences: on some BLAS kernels Levenberg-
    Marquardt's path ends where the two exponentials coalesce (rates 0.0166 and 0.0168,
    amplitudes +-78, cost 3.989e-5, DEGENERATE). Restarted from the stalled point with the
    pairs pushed apart, the fit reaches the certified minimum (cost 2.7324e-5)."""
    from trustfit.reference import nist

    p = nist.load("MGH17")
    stall = np.array([3.82238298e-01, 7.86852892e+01, -7.82191878e+01, 1.66037253e-02,
                      1.67938056e-02])
    stalled = trustfit.least_squares(p.residuals, stall, method="lm", rescue=False)
    assert stalled.stop_reason is trustfit.StopReason.DEGENERATE
    assert stalled.cost == pytest.approx(3.9890e-5, rel=1e-3)
    from trustfit.strategies.rescue import rescue

    def run_once(start, nfev_left=None, iter_left=None):
        return trustfit.least_squares(p.residuals, start, rescue=False, max_nfev=nfev_left)

    # As if the stall had been reached from NIST's start 1.
    import dataclasses
    r = rescue(run_once, dataclasses.replace(stalled, x0=np.asarray(p.starts[0], float)),
               max_nfev=5000)
    assert r.success
    assert nist.lre(r.x, p.certified) >= 7.0
    assert any(isinstance(e, RescueRestart) and e.origin == "stalled point"
               and e.pairs == ((1, 2), (3, 4)) for e in r.events)


def test_a_certified_restart_at_the_same_cost_is_kept():
    """A restart that reaches the best cost so far (within 1e-8) certified, where the best run
    was not certified, replaces it: the answer is the same, and now it is vouched for."""
    import dataclasses

    from trustfit.strategies.rescue import rescue

    good = trustfit.least_squares(ex.residuals, ex.STARTS[0], jac=ex.jacobian, rescue=False)
    assert good.success
    # The same point, as a run that stopped without converging (a budget stop).
    stalled = dataclasses.replace(good, stop_reason=StopReason.MAX_ITER, x0=np.array(ex.STARTS[0], float))

    def run_once(start, nfev_left=None, iter_left=None):
        return trustfit.least_squares(ex.residuals, start, jac=ex.jacobian, rescue=False)

    r = rescue(run_once, stalled, max_nfev=10_000)
    assert r.success and r.cost == pytest.approx(good.cost, rel=1e-8)
    assert only(r.events, RescueKept).kept == 1
