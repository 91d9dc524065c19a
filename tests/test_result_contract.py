"""The result's contract (issue 14): a frozen FitResult built once, typed event records that
nothing has to parse, and ``to_dict()``, plain JSON-able Python that feeds the CLI's JSON."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from _cli_calls import call

import trustfit
from trustfit import StopReason
from trustfit import examples as ex
from trustfit.core import events as ev

SCIPY_FIELDS = ("x", "cost", "fun", "jac", "grad", "optimality", "active_mask", "nfev", "njev",
                "status", "message", "success")
TRUSTFIT_FIELDS = ("nit", "method", "stop_reason", "stop_value", "history", "nfev_fd", "x0",
                   "bounds", "events", "param_names", "ydata", "sigma", "absolute_sigma",
                   "jac_method", "minima")


@pytest.fixture(scope="module")
def textbook():
    """README's "In one screen": the textbook example from [0, 0, 0, 0], where every
    Gauss-Newton-type method stalls at the symmetric point and the rescue restarts once."""
    return trustfit.least_squares(ex.residuals, [0, 0, 0, 0])


def test_the_result_is_frozen(textbook):
    r = textbook
    for name, value in (("x", np.zeros(4)), ("cost", 0.0), ("events", ()),
                        ("param_names", ("a", "b", "c", "d")), ("stop_reason", StopReason.COST)):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(r, name, value)
    # The sequences are tuples: nothing can be appended after the result is built.
    assert isinstance(r.events, tuple) and isinstance(r.history, tuple)
    assert not hasattr(r.events, "append")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.events[0].kind = "other"  # type: ignore[misc]
    # A layer that adds to a result builds a new one; the original is unchanged.
    named = dataclasses.replace(r, param_names=("x1", "x2", "x3", "x4"))
    assert named.param_names == ("x1", "x2", "x3", "x4") and r.param_names is None


def test_the_fields_are_scipys_and_trustfits(textbook):
    assert set(textbook.keys()) == set(SCIPY_FIELDS) | set(TRUSTFIT_FIELDS)
    for key in SCIPY_FIELDS + TRUSTFIT_FIELDS:
        assert key in textbook


def test_fit_builds_the_result_with_what_it_knows():
    def f(t, x1, x2, x3, x4):
        return x3 * np.exp(x1 * t) + x4 * np.exp(x2 * t)

    sigma = np.full(ex.T.size, 0.05)
    r = trustfit.fit(f, ex.T, ex.Y, p0=ex.STARTS[0], sigma=sigma, absolute_sigma=True)
    assert r.param_names == ("x1", "x2", "x3", "x4") and r.absolute_sigma is True
    np.testing.assert_array_equal(r.ydata, ex.Y)
    np.testing.assert_array_equal(r.sigma, sigma)
    # the cost is the weighted one: 0.0255953 / 0.05**2 at the global minimum
    assert r.cost == pytest.approx(ex.MINIMUM_COST / 0.05**2, rel=1e-6)


def test_events_are_typed_records_of_what_happened(textbook):
    r = textbook
    assert r.cost == pytest.approx(ex.MINIMUM_COST, abs=5e-8) and r.success
    kinds = [type(e) for e in r.events]
    assert all(isinstance(e, ev.Event) for e in r.events)
    # 'auto': the trust-region stage stalled at the symmetric point, Levenberg-Marquardt
    # continuing from there too, and again from x0; the last result was kept.
    switches = [e for e in r.events if isinstance(e, ev.MethodSwitch)]
    assert [e.origin for e in switches] == ["best point", "x0"]
    for switch in switches:
        assert (switch.first, switch.second, switch.kept) == ("tr", "lm", "lm")
        assert switch.first_stop is StopReason.DEGENERATE is switch.second_stop
        assert switch.first_cost > 5.0 and switch.second_cost > 5.0
    # The convergence test that fired there was refused by the certificate.
    (fired,) = [e for e in r.events if isinstance(e, ev.StopTestFired)]
    assert fired.test.converged and fired.verdict is StopReason.DEGENERATE
    assert 0 < fired.iteration <= r.nit
    # One restart, from x0 jittered with both exchangeable pairs pushed apart, kept.
    (restart,) = [e for e in r.events if isinstance(e, ev.RescueRestart)]
    assert restart.index == 1 and restart.origin == "x0"
    assert restart.previous_stop is StopReason.DEGENERATE
    assert restart.previous_cost == pytest.approx(switch.second_cost, rel=1e-12)
    assert restart.triggers == ("exchangeable_parameters",)
    assert restart.pairs == ((0, 1), (2, 3)) and len(restart.start) == 4
    assert restart.best_so_far and restart.stop is r.stop_reason and restart.cost == r.cost
    (kept,) = [e for e in r.events if isinstance(e, ev.RescueKept)]
    assert (kept.kept, kept.restarts, kept.cost) == (1, 1, r.cost)
    assert sorted(k.kind for k in kinds) == sorted(
        ["method_switch", "method_switch", "stop_test_fired", "rescue_restart", "rescue_kept"])
    # The history says which run each iteration belongs to.
    assert {h.restart for h in r.history} == {0, 1}
    # Each record still reads as the sentence the report prints.
    assert str(kept) == "rescue kept restart 1 (cost 0.0255953) after 1 restart."
    assert str(restart).startswith("rescue restart 1: the previous run stopped (DEGENERATE, ")
    report = r.report(full=True)
    for e in r.events:
        assert str(e) in report


def test_to_dict_is_plain_json(textbook):
    d = textbook.to_dict()
    assert set(d) == set(SCIPY_FIELDS) | set(TRUSTFIT_FIELDS)
    text = json.dumps(d, allow_nan=False)  # strict JSON: no NaN or Infinity
    assert json.loads(text) == d
    assert d["x"] == textbook.x.tolist() and d["cost"] == textbook.cost
    assert d["stop_reason"] == textbook.stop_reason.name and d["status"] == textbook.status
    assert d["success"] is True and d["message"] == textbook.message
    assert np.array(d["jac"]).shape == textbook.jac.shape
    assert len(d["history"]) == textbook.nit
    assert d["history"][-1]["x"] == textbook.history[-1].x.tolist()
    assert d["bounds"] == [[None] * 4, [None] * 4]  # infinite bounds: JSON has no infinity
    assert d["param_names"] is None and d["minima"] is None
    # events as dicts: their kind, their fields and their sentence
    for e, de in zip(textbook.events, d["events"]):
        assert de["kind"] == e.kind and de["text"] == str(e)
        assert set(de) == {"kind", "text"} | {f.name for f in dataclasses.fields(e)}
    restart = next(de for de in d["events"] if de["kind"] == "rescue_restart")
    assert restart["pairs"] == [[0, 1], [2, 3]] and restart["previous_stop"] == "DEGENERATE"
    assert restart["best_so_far"] is True


def test_to_dict_of_a_multistart_has_the_minima():
    r = trustfit.multistart(ex.residuals, ex.STARTS[2], starts=4, jac=ex.jacobian, workers=1)
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert len(d["minima"]) == len(r.minima) >= 1
    assert d["minima"][0]["cost"] == pytest.approx(ex.MINIMUM_COST, abs=5e-8)
    assert d["minima"][0]["x"] == r.minima[0].x.tolist()
    (summary,) = [e for e in d["events"] if e["kind"] == "multistart_summary"]
    assert summary["starts"] == 4 and summary["minima"] == len(r.minima)
    total = [e["total"] for e in d["events"] if e["kind"] == "multistart_evaluations"]
    assert total and total[0] >= r.nfev


def test_event_kinds_are_distinct_and_every_record_prints():
    records = [
        ev.StopTestFired(StopReason.STEP, 14, 1e-16, StopReason.DEGENERATE),
        ev.MethodSwitch("dogleg", StopReason.DEGENERATE, 5.6, "lm", StopReason.COST, 0.02,
                        "lm"),
        ev.BudgetReached(100, 7, 2, StopReason.COST),
        ev.StartRejected((0.0, 1.0), "fun returned non-finite residuals at x0"),
        ev.JacobianReevaluated("3-point", 6),
        ev.RescueNotStarted(StopReason.MAX_NFEV, ("not_converged",),
                            ev.BudgetLeft("max_nfev", 0, 5)),
        ev.RescueRestart(2, StopReason.STALLED, 3.0, ("not_stationary",), (1.0, 2.0),
                         "stalled point", ((0, 1),), StopReason.COST, 1.0, True),
        ev.RescueOutOfBudget(3, ev.BudgetLeft("max_iter", 1, 40)),
        ev.RescueStallRepeated(2),
        ev.RescueKept(0, 3.0, 2),
        ev.MultistartSummary(8, "lhs", 1, 2, 3, 0.5, 4),
        ev.MinimumFound(1, 0.5, 3, 8, 0, (("a", "b"),)),
        ev.MultistartEvaluations(1234),
        ev.IterativeCertificate("certificate of J by iterative estimates (no dense SVD)"),
        ev.CovariancePseudoInverse("x[0] and x[1] are not determined separately."),
    ]
    subclasses = set(ev.Event.__subclasses__())
    assert {type(e) for e in records} == subclasses
    assert len({e.kind for e in records}) == len(records)
    texts = [str(e) for e in records]
    assert texts[-1] == ("x[0] and x[1] are not determined separately. pcov is the "
                         "pseudo-inverse.")
    assert texts[0] == ("step test fired at iteration 14 (Converged: the step 1e-16 fell below "
                        "xtol relative to the size of x.), but the point is not certified.")
    assert texts[2] == ("max_nfev=100 reached in iteration 7: 2 further evaluations refused; "
                        "the run stopped there (COST on the unevaluated trial does not stand).")
    assert texts[5] == ("rescue: the run stopped (MAX_NFEV) with not_converged, but no "
                        "restart: 0 of max_nfev=5 evaluations are left.")
    assert texts[6] == ("rescue restart 2: the previous run stopped (STALLED, cost 3) with "
                        "not_stationary; restarted from [1., 2.] (the best stalled point, "
                        "pushed apart x[0]/x[1]) and reached cost 1 (COST), the best so far.")
    assert texts[7] == "rescue stopped: 1 of max_iter=40 iterations are left."
    assert texts[9] == "rescue kept the original run (cost 3) after 2 restarts."
    assert texts[10] == ("multistart: 8 starts (lhs design, seed 1; start 0 is x0), 2 distinct "
                         "minima, 3 runs ended elsewhere (not converged or not stationary); "
                         "the best (cost 0.5) came from start 4.")
    assert texts[11] == ("minimum 1: cost 0.5, found by 3 of 8 starts; equivalent to minimum 0 "
                         "(the same fit with a <-> b).")
    for e in records:
        assert json.loads(json.dumps(e.to_dict(), allow_nan=False)) == e.to_dict()
    # NumPy scalars become Python numbers, so records compare and print plainly.
    kept = ev.RescueKept(np.int64(1), np.float64(0.25), 1)
    assert type(kept.kept) is int and type(kept.cost) is float and kept == ev.RescueKept(1, 0.25, 1)


def test_cli_json_is_the_results_dict_with_names(capsys, tmp_path):
    pytest.importorskip("sympy")
    data = tmp_path / "textbook.csv"
    data.write_text("t,y\n" + "\n".join(f"{t:g},{y:g}" for t, y in zip(ex.T, ex.Y)) + "\n")
    out = tmp_path / "fit.json"
    code, _, _ = call(capsys, "fit", data, "--model", "x3*exp(x1*t) + x4*exp(x2*t)", "--x", "t",
                      "--y", "y", "--p0", "x1=0,x2=0,x3=0,x4=0", "--json", out)
    assert code == 0
    d = json.loads(out.read_text())
    # the keys the command has always written
    assert set(d) == {"data", "model", "x", "y", "sigma", "absolute_sigma", "points",
                      "parameters", "confidence", "interval_note", "cost", "success",
                      "stop_reason", "message", "method", "nit", "nfev", "njev", "optimality",
                      "events", "minima", "history", "diagnosis"}
    assert d["cost"] == pytest.approx(ex.MINIMUM_COST, abs=5e-8) and d["success"] is True
    kinds = [e["kind"] for e in d["events"]]
    assert "rescue_restart" in kinds and "rescue_kept" in kinds
    assert all(isinstance(e["text"], str) for e in d["events"])
    assert set(d["history"][0]["x"]) == {"x1", "x2", "x3", "x4"}
    assert d["history"][-1]["restart"] == 1
