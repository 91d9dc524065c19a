"""The batch Levenberg-Marquardt does not depend on the units (issue 12).

Damped with Moré's scaling ``mu D^2`` (:mod:`trustfit.steps.lm_rules`), the iterates in
new units are the old ones rescaled, to rounding: a rate in 1/1000 units (the model
rewritten, ``exp(x1 t / 1000)``), or y times 1e-6 or 1e6 (the linear parameters with it,
which changes their size against the rates') give each curve the same success decision
and the rescaled answer.  With ``mu I`` (before) y times 1e6 flipped the success flag of
14% of the benchmark's exp2 curves.  ``method='lm'`` on both backends; variable projection
still damps with ``mu I`` (:mod:`trustfit.batch._kernel_varpro`, ``MORE_SCALING``).
"""

import numpy as np
import pytest

pytest.importorskip("numba")
pytest.importorskip("sympy")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import trustfit  # noqa: E402

EXPR = "x3*exp(x1*t) + x4*exp(x2*t)"
SLOW = "x3*exp(x1*t/1000) + x4*exp(x2*t)"  # x1 in 1/1000 units: x1' = 1000 x1
PARAMS = ["x1", "x2", "x3", "x4"]
P0 = np.array([-1.0, -0.2, 1.0, 1.0])
T = np.linspace(0.0, 10.0, 40)

# unit changes: (model, y factor, parameter factors)
CHANGES = {
    "x1 in 1/1000": (SLOW, 1.0, np.array([1000.0, 1.0, 1.0, 1.0])),
    "y*1e-6": (EXPR, 1e-6, np.array([1.0, 1.0, 1e-6, 1e-6])),
    "y*1e6": (EXPR, 1e6, np.array([1.0, 1.0, 1e6, 1e6])),
}


def exp2_curves(seed, n=8):
    """The benchmark's exp2 curves (trustfit.apps.bench_batch), fewer points."""
    rng = np.random.default_rng(seed)
    k = -np.stack([rng.uniform(0.4, 1.2, n), rng.uniform(0.1, 0.4, n)], 1)
    a = rng.uniform(0.5, 2.0, (n, 2))
    Y = a[:, :1] * np.exp(k[:, :1] * T) + a[:, 1:] * np.exp(k[:, 1:] * T)
    return Y + 0.03 * rng.standard_normal(Y.shape)


def fit(expr, Y, p0, method, backend):
    return trustfit.fit_batch(expr, T, Y, p0, method=method, backend=backend, rescue=False,
                              params=PARAMS)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), change=st.sampled_from(sorted(CHANGES)),
       run=st.sampled_from([("lm", "compiled"), ("lm", "numpy")]))
def test_units_change_no_decision_and_rescale_the_answer(seed, change, run):
    method, backend = run
    expr, ys, pf = CHANGES[change]
    Y = exp2_curves(seed)
    base = fit(EXPR, Y, P0, method, backend)
    new = fit(expr, Y * ys, P0 * pf, method, backend)
    assert base.success.sum() >= 4  # the property is about real fits
    np.testing.assert_array_equal(new.success, base.success)
    ok = base.success
    # the same point: within 1e-3 standard errors (a nearly undetermined parameter, e.g.
    # an amplitude of 2e-8 +- 1e-3, agrees only to the stopping tolerance's sqrt)
    dev = np.abs(new.params[ok] / pf - base.params[ok])
    assert (dev <= 1e-3 * base.stderr[ok]).all(), dev / base.stderr[ok]
    np.testing.assert_allclose(new.stderr[ok] / pf, base.stderr[ok], rtol=1e-2)
    np.testing.assert_allclose(new.cost[ok] / ys**2, base.cost[ok], rtol=1e-8)
