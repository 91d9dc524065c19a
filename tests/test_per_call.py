"""The per-call shortcuts of issue 16 (tiny fits) give the numbers of the general paths.

Each shortcut skips work for the common case (no zero column, full rank, float64 output of
the first call's shape, an errstate already in force); these tests hold them to independent
references (NumPy's own norms, the masked formulas) at every scale, and check that the cases
they skip still take the general path."""
from __future__ import annotations

import functools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import trustfit
from trustfit.core.linalg import column_norms, norm2
from trustfit.core.quiet import quiet
from trustfit.core.stopping import gradient_cosine, step_floor, step_test
from trustfit.faces._shared import signature_names

SCALES = st.integers(min_value=-150, max_value=150)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scale=SCALES, zero=st.booleans())
def test_column_norms_and_cosines_match_references_at_every_scale(seed, scale, zero):
    rng = np.random.default_rng(seed)
    J = rng.standard_normal((20, 3)) * 10.0 ** scale
    if zero:
        J[:, 1] = 0.0
    r = rng.standard_normal(20) * 10.0 ** scale
    norms = column_norms(J.copy())
    assert np.allclose(norms, np.linalg.norm(J, axis=0), rtol=1e-14, atol=0.0)
    g = J.T @ r
    expected = max(abs(g[j]) / (np.linalg.norm(J[:, j]) * np.linalg.norm(r))
                   for j in range(3) if not (zero and j == 1))
    assert gradient_cosine(J, r, norms, g) == pytest.approx(expected, rel=1e-13)
    assert gradient_cosine(J, r) == pytest.approx(expected, rel=1e-13)  # the O(m n) path
    assert norm2(r) == pytest.approx(float(np.linalg.norm(r)), rel=1e-15)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scale=SCALES, zero_x=st.booleans())
def test_step_test_and_floor_match_the_masked_formulas(seed, scale, zero_x):
    rng = np.random.default_rng(seed)
    J = rng.standard_normal((20, 3))
    x = rng.standard_normal(3) * 10.0 ** scale
    h = rng.standard_normal(3) * 10.0 ** (scale - 9)
    if zero_x:
        x[0], h[0] = 0.0, 0.0
    c = np.linalg.norm(J, axis=0)
    floor = step_floor(J, x, c)
    assert np.allclose(floor, np.linalg.norm(c * x) / c, rtol=1e-14)
    for xtol in (1e-15, 1e-8, 1e-3):
        size = np.abs(x) + xtol * floor
        ratio = np.where(h == 0.0, 0.0, np.abs(h) / size)
        reason, value = step_test(h, x, xtol, floor)
        assert value == pytest.approx(float(np.max(ratio)), rel=1e-15)
        assert (reason is not None) == bool(np.all(np.abs(h) <= xtol * size))


def test_step_test_with_no_size_at_zero_is_zero_not_nan():
    """x_j = 0 with no floor (xtol * floor = 0) and h_j = 0: the general path's 0, not 0/0."""
    reason, value = step_test(np.array([0.0, 1e-20]), np.array([0.0, 1.0]), 1e-15,
                              np.array([0.0, 0.0]))
    assert value == pytest.approx(1e-20) and reason is not None


def test_quiet_nests_and_restores_numpy_error_state():
    before = np.geterr()
    with quiet():
        assert np.geterr()["over"] == "ignore"
        with quiet():
            np.exp(np.array([1000.0]))  # would warn (filterwarnings = error) outside
        assert np.geterr()["over"] == "ignore"
    assert np.geterr() == before
    with pytest.raises(RuntimeWarning):
        np.exp(np.array([1000.0]))


def test_function_output_checks_still_run_past_the_shortcut():
    """The shortcut takes float64 vectors of the first call's length only; anything else
    still meets the full checks at the boundary."""
    calls = []

    def fun(p):
        calls.append(1)
        if len(calls) < 4:
            return p - np.array([1.0, 2.0])
        return np.ones(3)  # the number of residuals changes mid-fit

    with pytest.raises(ValueError, match="2 at another|residuals at one point"):
        trustfit.least_squares(fun, [0.0, 0.0], rescue=False)
    listed = trustfit.least_squares(lambda p: [float(p[0]) - 3.0, 2.0 * float(p[1])],
                                    [0.0, 1.0])  # a list: read by the general path
    assert listed.fun.dtype == np.float64
    assert listed.x == pytest.approx([3.0, 0.0], abs=1e-12)


def test_signature_names_cached_per_function_and_unhashable_callables_work():
    def f(t, a, b):
        return a * t + b

    assert signature_names(f) == ("a", "b")
    assert signature_names(f) == ("a", "b")  # from the cache
    assert signature_names(functools.partial(f)) == ("a", "b")

    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self, t, k):
            return t * k

    assert signature_names(Unhashable()) == ("k",)


def test_tiny_fit_answers_match_scipy_at_tight_tolerance():
    """The tiny benchmark's fit (bench/single.py): the same answer as SciPy from the true
    parameters at tight tolerance, finite differences and analytic, and certified."""
    from scipy.optimize import curve_fit as scipy_curve_fit

    t = np.linspace(0.0, 5.0, 20)
    rng = np.random.default_rng(0)

    def model(t, a, k, c):
        return a * np.exp(-k * t) + c

    def jac(t, a, k, c):
        e = np.exp(-k * t)
        return np.column_stack([e, -a * t * e, np.ones_like(t)])

    for truth in ((2.0, 1.3, 0.1), (1.2, 0.6, -0.4)):
        y = model(t, *truth) + 0.02 * rng.standard_normal(t.size)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = scipy_curve_fit(model, t, y, truth, jac=jac, method="trf", ftol=1e-15,
                                  xtol=1e-15, gtol=1e-15)[0]
        for j in (None, jac):
            res = trustfit.fit(model, t, y, [1.0, 1.0, 0.0], jac=j)
            assert res.success
            assert res.x == pytest.approx(ref, rel=1e-9)
