"""fit_batch does not certify a higher local minimum as success (issue 12, target "0 curves
with success=True that are not at the optimum").

The curves are six of the benchmark's exp2 curves (``trustfit.apps.bench_batch.gen``,
10^4 curves, seed 12345) that the batch certified at a local minimum above the lowest
known cost before the exploration of :mod:`trustfit.batch._rescue` ("Certified curves
with an undetermined parameter").  The reference is SciPy ``least_squares(method='lm')``
at 1e-15 tolerances, the lowest of its fits from the true parameters and from the lower
minima below (rounded to 6 digits; SciPy polishes them): independent of trustfit.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("numba")
pytest.importorskip("sympy")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from scipy.optimize import least_squares  # noqa: E402

from trustfit.apps.bench_batch import MODELS, _model, gen, scipy_fn  # noqa: E402
from trustfit.batch import _rescue, fit_batch  # noqa: E402
from trustfit.batch._model import as_batch_model  # noqa: E402

ROWS = [1326, 2317, 4902, 7907, 8296, 8870]
#: Lower minima of those curves (x1, x2, x3, x4), from tight fits started at the true
#: parameters: a growing exponential with a tiny amplitude fitting the tail's noise, or
#: the two rates merging with opposite amplitudes (row 1326).
LOWER = [[-0.409065, -0.409076, 10774.8, -10771.9],
         [-0.45758, 0.30555, 3.05767, 0.000670813],
         [-0.327062, 4.81292, 1.8679, 7.28793e-23],
         [-0.432554, 0.825429, 2.53429, -9.06756e-06],
         [-0.363414, 0.145242, 2.84458, 0.000316272],
         [-0.378452, 1.3355, 3.65168, -2.64902e-08]]
SPEC = MODELS["exp2"]
P0 = np.array(SPEC["p0"])
CASES = [("compiled", "varpro"), ("compiled", "lm"), ("numpy", "lm")]


@pytest.fixture(scope="module")
def curves():
    """(t, Y, true, ref): the six curves, their true parameters and SciPy's lowest cost."""
    t, Y, true = gen("exp2", 10_000, 64)
    Y, true = Y[ROWS], true[ROWS]
    f, jac = scipy_fn("exp2")
    ref = np.empty(len(ROWS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for k in range(len(ROWS)):
            costs = [least_squares(lambda p: f(t, *p) - Y[k], start, method="lm",
                                   jac=lambda p: jac(t, *p), xtol=1e-15, ftol=1e-15,
                                   gtol=1e-15).cost
                     for start in (true[k], np.array(LOWER[k]))]
            ref[k] = min(costs)
    return t, Y, true, ref


def test_the_curves_have_lower_minima_than_their_certified_local_ones(curves):
    """The data exercise the rule: without the rescue (no exploration) every one of the six
    is certified at a local minimum above SciPy's lowest cost, by 3e-5 to 12 %."""
    t, Y, _, ref = curves
    r = fit_batch(_model(SPEC), t, Y, P0, backend="compiled", rescue=False)
    assert r.success.all()
    assert (r.cost > ref * (1 + 2e-5)).all(), r.cost / ref - 1


@pytest.mark.parametrize("backend, method", CASES)
def test_no_success_above_the_lowest_minimum(curves, backend, method):
    """With the rescue, a curve is ``success`` only at SciPy's lowest cost; and the
    exploration reaches it (certified) on some of the six, so the test can fail both
    ways: a certified local minimum left in place, or nothing found."""
    t, Y, _, ref = curves
    r = fit_batch(_model(SPEC), t, Y, P0, backend=backend, method=method)
    at = r.cost <= ref * (1 + 1e-6)
    assert not (r.success & ~at).any(), (r.cost / ref - 1, r.stop_reason)
    assert (r.success & at).sum() >= 2, (r.cost / ref - 1, r.stop_reason)
    # a curve left off the optimum is told so: not success, and at a lower cost than the
    # local minimum it was certified at before (the lower point wins)
    local = fit_batch(_model(SPEC), t, Y, P0, backend=backend, method=method, rescue=False)
    demoted = local.success & ~r.success
    assert (r.cost[demoted] < local.cost[demoted] * (1 - 1e-6)).all()


@settings(max_examples=8, deadline=None)
@given(k=st.integers(-100, 100), j=st.integers(-3, 3))
def test_same_decisions_and_rescaled_answers_at_any_scale(curves, k, j):
    """y times 10^k and t in units 10^j (rates times 10^-j): the same curves are success,
    each at the unscaled answer rescaled, with the same stop reason (variable projection,
    the default).  The refused ones end at a rate running off to infinity (the weak term
    shrinking onto the last point), where the damping's overflow (``NO_PROGRESS``) and a
    step test refused as ``STALLED`` are rounding apart: refused either way, at a cost
    below the local minimum they were certified at without the exploration.

    Scales to 1e-100 only: at y ~ 1e-129 the variable-projection kernel's weighted basis
    overflows when the exploration tries a growing exponential (``exp(6 t)`` on t up to
    10 is 1e26; times the weights that bring y near 1, 1e128, squared: inf), and row 7907
    keeps its local minimum (a kernel matter: ``_unit_weights`` scales by the data only)."""
    t, Y, _, ref = curves
    s, c = 10.0**k, 10.0**j
    base = fit_batch(_model(SPEC), t, Y, P0, backend="compiled")
    units = np.array([1 / c, 1 / c, s, s])
    r = fit_batch(_model(SPEC), t * c, Y * s, P0 * units, backend="compiled")
    np.testing.assert_array_equal(r.success, base.success)
    ok = base.success
    assert ok.sum() >= 2
    np.testing.assert_array_equal(r.stop_code[ok], base.stop_code[ok])
    np.testing.assert_allclose(r.cost[ok] / s**2, base.cost[ok], rtol=1e-7)
    np.testing.assert_allclose(r.params[ok] / units, base.params[ok], rtol=1e-5)
    local = fit_batch(_model(SPEC), t, Y, P0, backend="compiled", rescue=False)
    assert (r.cost[~ok] / s**2 < local.cost[~ok] * (1 - 1e-6)).all()


@settings(max_examples=25, deadline=None)
@given(k=st.integers(-100, 100), j=st.integers(-3, 3), lm=st.booleans())
def test_exploration_rule_is_free_of_units(curves, k, j, lm):
    """The screen (``se_j > |x_j|``) flags the same curves and the restarts are the
    unscaled ones rescaled, for y times 10^k and t in units 10^j."""
    t, Y, true, _ = curves
    bm = as_batch_model(_model(SPEC))
    free = [0, 1, 2, 3] if lm else [0, 1]
    s, c = 10.0**k, 10.0**j
    units = np.array([1 / c, 1 / c, s, s])
    rng = np.random.default_rng(5)
    P = true * (1 + 0.5 * rng.standard_normal(true.shape))
    se = 0.5 * np.abs(P)
    se[[0, 2], free[-1]] *= 4.0  # two curves with an undetermined parameter
    codes = np.ones(len(ROWS), dtype=np.int8)
    F = 0.5 * np.sum((Y - 1.0) ** 2, axis=1)
    mask = _rescue.undetermined(P, se, codes, free)
    np.testing.assert_array_equal(mask, [True, False, True, False, False, False])
    np.testing.assert_array_equal(_rescue.undetermined(P * units, se * units, codes, free), mask)
    W = np.ones((1, t.size))
    E, has = _rescue.explore_starts(bm, t[None, None, :], Y, W, P, F, free)
    Es, has_s = _rescue.explore_starts(bm, (t * c)[None, None, :], Y * s, W, P * units,
                                       F * s * s, free)
    assert has.all()
    np.testing.assert_array_equal(has_s, has)
    np.testing.assert_allclose(Es / units, E, rtol=1e-9)
    # the restarts move the free parameters only, one each way
    fixed = [i for i in range(4) if i not in free]
    assert (E[0][:, free] != P[:, free]).any(axis=1).all()
    np.testing.assert_allclose(E[0][:, free] - P[:, free], P[:, free] - E[1][:, free])
    np.testing.assert_array_equal(E[:, :, fixed], np.broadcast_to(P[:, fixed], (2,) + P[:, fixed].shape))
