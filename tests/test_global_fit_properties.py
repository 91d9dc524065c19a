"""fit_global: invariances (rescaled y and sigma, shuffled data sets), the diagnosis per data
set, the certificate's refusals, and bad input named at the boundary."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import trustfit

EXPR = "a*exp(-t/tau) + c"


def decays(K=6, seed=0, tau=2.0, noise=0.02, taus=None):
    rng = np.random.default_rng(seed)
    sets = []
    for k in range(K):
        t = np.linspace(0, 10, 30 + 3 * k)
        tk = tau if taus is None else taus[k]
        y = (1 + k) * np.exp(-t / tk) + 0.1 * k + noise * rng.standard_normal(t.size)
        sets.append((t, y, np.full(t.size, noise)))
    return sets


P0 = {"a": 1.0, "tau": 1.5, "c": 0.0}


@settings(max_examples=6, deadline=None)
@given(st.integers(-120, 120))
def test_rescaling_y_and_sigma_of_every_data_set_changes_no_decision(power):
    sets = decays(seed=1)
    s = 10.0 ** power
    base = trustfit.fit_global(EXPR, sets, shared=["tau"], p0=P0)
    scaled = trustfit.fit_global(EXPR, [(t, s * y, s * e) for t, y, e in sets],
                                 shared=["tau"], p0={"a": s, "tau": 1.5, "c": 0.0})
    assert scaled.success == base.success is True
    assert scaled.shared["tau"] == pytest.approx(base.shared["tau"], rel=1e-9)
    assert scaled.shared_stderr[0] == pytest.approx(base.shared_stderr[0], rel=1e-7)
    for k in range(len(sets)):
        assert scaled.local[k]["a"] == pytest.approx(s * base.local[k]["a"], rel=1e-8)
    np.testing.assert_allclose(scaled.chisqr_sets, base.chisqr_sets, rtol=1e-8)
    assert [f.code for f in scaled.findings] == [f.code for f in base.findings]


@settings(max_examples=5, deadline=None)
@given(st.permutations(range(6)))
def test_data_set_order_changes_nothing(order):
    sets = decays(seed=2, taus=[2.0] * 5 + [2.6])  # one disagrees: named in any order
    named = {f"d{k}": sets[k] for k in range(6)}
    base = trustfit.fit_global(EXPR, named, shared=["tau"], p0=P0)
    shuffled = trustfit.fit_global(EXPR, {f"d{k}": sets[k] for k in order}, shared=["tau"],
                                   p0=P0)
    assert shuffled.success and base.success
    assert shuffled.shared["tau"] == pytest.approx(base.shared["tau"], rel=1e-10)
    assert shuffled.shared_stderr[0] == pytest.approx(base.shared_stderr[0], rel=1e-8)
    for k in range(6):
        i, j = base.names.index(f"d{k}"), shuffled.names.index(f"d{k}")
        assert shuffled.local[j]["a"] == pytest.approx(base.local[i]["a"], rel=1e-9)
    named_base = {f.code: set(f.parameters) for f in base.findings}
    named_shuffled = {f.code: set(f.parameters) for f in shuffled.findings}
    assert named_shuffled == named_base
    assert named_base.get("dataset_disagrees") == {"d5"}


def test_diagnosis_names_the_data_set_that_disagrees():
    sets = decays(K=8, seed=3, taus=[2.0] * 7 + [2.5])
    r = trustfit.fit_global(EXPR, sets, shared=["tau"], p0=P0)
    assert r.success
    finding = r.diagnosis.get("dataset_disagrees")
    assert finding is not None and finding.parameters == (7,)
    assert "7" in r.report()
    agree = trustfit.fit_global(EXPR, decays(K=8, seed=3), shared=["tau"], p0=P0)
    assert agree.diagnosis.get("dataset_disagrees") is None
    assert agree.diagnosis.get("dataset_misfit") is None


def test_diagnosis_names_the_noisy_data_set():
    sets = decays(K=6, seed=4)
    t, y, e = sets[2]
    y = y + 0.2 * np.random.default_rng(9).standard_normal(t.size)  # 10x its sigma
    sets[2] = (t, y, e)
    r = trustfit.fit_global(EXPR, sets, shared=["tau"], p0=P0)
    assert r.diagnosis.get("dataset_misfit").parameters == (2,)
    assert r.redchi_sets[2] > 50 * np.median(r.redchi_sets)


def test_diagnosis_names_a_flat_data_set_that_does_not_constrain_the_lifetime():
    sets = decays(K=5, seed=5)
    t = sets[0][0]
    flat = 0.3 + 0.02 * np.random.default_rng(2).standard_normal(t.size)  # no decay at all
    r = trustfit.fit_global(EXPR, sets + [(t, flat, np.full(t.size, 0.02))], shared=["tau"],
                            p0=P0)
    finding = r.diagnosis.get("dataset_does_not_constrain")
    assert finding is not None and finding.parameters == (5,)
    assert r.success  # the others determine tau; the flat set's own amplitude ~ 0


def test_a_data_set_whose_own_parameters_are_undetermined_is_named_and_refused():
    sets = decays(K=4, seed=6)
    t = np.full(5, 3.0)  # one time point repeated: a and c cannot be told apart
    sets.append((t, 0.5 + 0.01 * np.arange(5), np.full(5, 0.02)))
    r = trustfit.fit_global(EXPR, sets, shared=["tau"], p0=P0)
    assert not r.success
    assert r.stop_reason is trustfit.StopReason.DEGENERATE
    assert r.diagnosis.get("dataset_undetermined").parameters == (4,)


def test_non_finite_at_p0_is_the_callers_error():
    sets = decays(K=2)
    with pytest.raises(ValueError, match=r"not finite at p0 in the data sets \[0, 1\]"):
        trustfit.fit_global("a*log(tau - t) + c", sets, shared=["tau"],
                            p0={"a": 1, "tau": 1, "c": 0})


GOOD = decays(K=2)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(datasets=42), TypeError, "datasets must be a sequence"),
    (dict(datasets=[]), ValueError, "datasets is empty"),
    (dict(datasets=[(1.0,)]), ValueError, r"datasets\[0\] must be \(x, y\)"),
    (dict(datasets=[(np.arange(3.0), np.arange(4.0))]), ValueError, "x has shape"),
    (dict(datasets=[(np.arange(3.0), [1, np.nan, 2])]), ValueError, "must be finite"),
    (dict(datasets=[(np.arange(3.0), np.ones(3) + 1j)]), ValueError, "real numbers"),
    (dict(datasets=[(np.arange(3.0), np.ones(3), -1.0)]), ValueError, "must be positive"),
    (dict(datasets=[(np.arange(3.0), np.ones(3), 1.0)], sigma=1.0), ValueError,
     "give it once"),
    (dict(sigma=[1.0]), ValueError, "one entry per data set"),
    (dict(shared=["k"]), ValueError, r"shared names \['k'\] that no model has"),
    (dict(shared="tau", p0={"a": 1, "tau": 1}), ValueError, "no start value for 'c'"),
    (dict(p0={"a": 1, "tau": 1, "c": 0, "q": 1}), ValueError, r"p0 names \['q'\]"),
    (dict(p0={"a": 1, "tau": [1, 2], "c": 0}), ValueError, "tau is shared"),
    (dict(p0={"a": [1, 2, 3], "tau": 1, "c": 0}), ValueError, r"one per data set \(2\)"),
    (dict(p0=[1, 2, 3]), TypeError, "p0 must map parameter names"),
    (dict(p0=None), ValueError, "p0 is required"),
    (dict(bounds={"tau": (2, 1)}), ValueError, "need low < high"),
    (dict(bounds={"tau": (2, 3)}), ValueError, "p0 is outside the bounds for 'tau'"),
    (dict(bounds=[(0, 1)]), TypeError, "bounds must be None or a mapping"),
    (dict(method="dogbox"), ValueError, "method='dogbox'"),
    (dict(model=3.5), TypeError, "model must be a trustfit.Model"),
    (dict(model=[EXPR]), ValueError, r"one per data set \(2\), got 1"),
    (dict(model="a*exp(-t/tau) + import"), ValueError, "model"),
    (dict(ftol=-1.0), ValueError, "ftol"),
    (dict(absolute_sigma="yes"), TypeError, "absolute_sigma"),
])
def test_bad_input_is_named(kwargs, error, match):
    args = dict(model=EXPR, datasets=GOOD, shared=["tau"], p0=P0)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        trustfit.fit_global(args.pop("model"), args.pop("datasets"), **args)


def test_full_covariance_is_refused_above_its_limit(monkeypatch):
    from trustfit.faces import global_result

    r = trustfit.fit_global(EXPR, GOOD, shared=["tau"], p0=P0)
    monkeypatch.setattr(global_result, "FULL_LIMIT", 3)
    with pytest.raises(ValueError, match="5 parameters make a dense 5 x 5 matrix"):
        r.full_covariance()


def test_a_budget_stop_is_not_a_success():
    r = trustfit.fit_global(EXPR, decays(K=3, seed=7), shared=["tau"], p0=P0, max_nfev=2)
    assert r.stop_reason is trustfit.StopReason.MAX_NFEV and not r.success
    assert r.nfev == 2
    r = trustfit.fit_global(EXPR, decays(K=3, seed=7), shared=["tau"], p0=P0, max_iter=1)
    assert r.stop_reason is trustfit.StopReason.MAX_ITER and not r.success


def test_a_trial_point_where_the_model_is_undefined_is_a_rejected_step():
    """log(tau - t) is undefined for tau < 10: steps that go there are rejected, not raised."""
    rng = np.random.default_rng(8)
    t = np.linspace(0, 9, 40)
    sets = [(t, a * np.log(12.0 - t) + 0.01 * rng.standard_normal(t.size), 0.01)
            for a in (1.0, 2.0, 3.0)]
    r = trustfit.fit_global("a*log(tau - t)", sets, shared=["tau"],
                            p0={"a": [1.0, 2.0, 3.0], "tau": 30.0})
    assert r.success, r.message
    assert "non-finite residuals" in [h.note for h in r.history]  # the path was taken
    assert r.shared["tau"] == pytest.approx(12.0, rel=1e-2)
