"""Property-based fuzz: ``success`` implies a minimum, checked independently of trustfit.

Hypothesis draws a model (exponential decay with offset, two exponentials, Gaussian with
offset, Michaelis-Menten, damped sine, power law), its true parameters, the grid, the noise, a
scale of the data between 1e-30 and 1e30 (the amplitudes absorb it), a start, a method, the
Jacobian (analytic or forward differences) and rescue on or off. For every result that claims
``success`` the test checks, with nothing of trustfit's:

* the stop is a convergence test (not a budget, not a stall);
* no lower cost nearby: SciPy's ``least_squares`` (``trf``, tolerances 1e-15, Moré scaling)
  started from trustfit's answer does not lower the cost by more than 1e-8 relative (a point
  that trustfit certifies as stationary to 1e-7 of the residual is within 1e-14 of it);
* not degenerate: the condition number of the column-scaled Jacobian, by SciPy's own
  central differences, is below ``10 / sqrt(eps)`` (trustfit's limit is ``1 / sqrt(eps)``;
  the factor 10 covers the difference between two approximations of one Jacobian).

The noise is at least 1e-6 of the signal, so every minimum has a cost well above rounding.
``HYPOTHESIS_PROFILE=fuzz`` (``make fuzz``) runs 5,000.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import least_squares as scipy_least_squares
from scipy.optimize._numdiff import approx_derivative

import trustfit

pytestmark = pytest.mark.fuzz

EXAMPLES = 5_000 if os.environ.get("HYPOTHESIS_PROFILE") == "fuzz" else 400
EPS = np.finfo(float).eps


def _expdecay(t, p):
    a, k, c = p
    e = np.exp(-k * t)
    return a * e + c, np.column_stack([e, -a * t * e, np.ones_like(t)])


def _twoexp(t, p):
    a1, k1, a2, k2 = p
    e1, e2 = np.exp(-k1 * t), np.exp(-k2 * t)
    return a1 * e1 + a2 * e2, np.column_stack([e1, -a1 * t * e1, e2, -a2 * t * e2])


def _gauss(t, p):
    a, mu, s, c = p
    z = (t - mu) / s
    g = np.exp(-0.5 * z * z)
    return a * g + c, np.column_stack([g, a * g * z / s, a * g * z * z / s, np.ones_like(t)])


def _michaelis(t, p):
    v, k = p
    d = k + t
    return v * t / d, np.column_stack([t / d, -v * t / d**2])


def _sine(t, p):
    a, w, phi, lam = p
    e = np.exp(-lam * t)
    s, c = np.sin(w * t + phi), np.cos(w * t + phi)
    return a * e * s, np.column_stack([e * s, a * e * c * t, a * e * c, -a * t * e * s])


def _power(t, p):
    a, b = p
    tb = t**b
    return a * tb, np.column_stack([tb, a * tb * np.log(t)])


# model, true parameters (low, high) per parameter, which parameters are amplitudes (scale
# with the data), the interval of t
MODELS = {
    "expdecay": (_expdecay, [(0.5, 5), (0.1, 2), (-1, 1)], [0, 2], (0.0, 10.0)),
    "twoexp": (_twoexp, [(1, 5), (0.05, 0.3), (1, 5), (0.8, 3)], [0, 2], (0.0, 20.0)),
    "gauss": (_gauss, [(1, 5), (3, 7), (0.5, 2), (-0.5, 0.5)], [0, 3], (0.0, 10.0)),
    "michaelis": (_michaelis, [(0.5, 5), (0.2, 3)], [0], (0.05, 10.0)),
    "sine": (_sine, [(1, 3), (1, 2), (-1, 1), (0.05, 0.3)], [0], (0.0, 10.0)),
    "power": (_power, [(0.5, 3), (-1.5, 1.5)], [0], (0.1, 5.0)),
}


@st.composite
def problems(draw):
    name = draw(st.sampled_from(sorted(MODELS)))
    model, ranges, amplitudes, (t0, t1) = MODELS[name]
    m = draw(st.integers(len(ranges) + 3, 60))
    t = np.linspace(t0, t1, m)
    unit = lambda: draw(st.floats(0.0, 1.0))  # noqa: E731
    truth = np.array([lo + (hi - lo) * unit() for lo, hi in ranges])
    scale = 10.0 ** draw(st.integers(-30, 30))
    truth[amplitudes] *= scale
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    clean, _ = model(t, truth)
    noise = 10.0 ** draw(st.floats(-6.0, -1.0)) * np.max(np.abs(clean))
    y = clean + noise * rng.standard_normal(m)
    spread = draw(st.floats(0.0, 0.6))
    x0 = truth * (1.0 + spread * rng.uniform(-1.0, 1.0, truth.size))
    method = draw(st.sampled_from([None, "lm", "hybrid", "dogleg", "gn"]))
    analytic = draw(st.booleans())
    rescue = draw(st.booleans())
    return name, model, t, y, x0, method, analytic, rescue


def _independent_check(fun, jac, x, cost):
    """No lower cost near ``x`` (SciPy, tight) and a well-conditioned Jacobian (SciPy's
    central differences); returns a message, or None when ``x`` passes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = scipy_least_squares(fun, x, jac=jac, method="trf", ftol=1e-15, xtol=1e-15,
                                  gtol=1e-15, x_scale="jac", max_nfev=2000)
        J = approx_derivative(fun, x, method="3-point")
    if ref.cost < cost * (1.0 - 1e-8):
        return f"SciPy found cost {ref.cost:.17g} below the certified {cost:.17g}"
    norms = np.linalg.norm(J, axis=0)
    if np.any(norms == 0.0) or not np.all(np.isfinite(J)):
        return "a zero or non-finite Jacobian column"
    s = np.linalg.svd(J / norms, compute_uv=False)
    if s[-1] <= 0.0 or s[0] / s[-1] > 10.0 / np.sqrt(EPS):
        return f"condition number {s[0] / s[-1]:.3g} of the column-scaled Jacobian"
    return None


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_success_implies_an_independently_checked_minimum(case):
    name, model, t, y, x0, method, analytic, rescue = case

    def fun(p):
        return model(t, p)[0] - y

    def jac(p):
        return model(t, p)[1]

    with np.errstate(all="ignore"):
        if not np.all(np.isfinite(fun(x0))) or not np.all(np.isfinite(jac(x0))):
            return
    r = trustfit.least_squares(fun, x0, jac=jac if analytic else "2-point", method=method,
                               rescue=rescue)
    if not r.success:
        return
    assert r.stop_reason.converged, r.stop_reason
    with np.errstate(all="ignore"):
        problem = _independent_check(fun, jac, r.x, 0.5 * float(np.sum(fun(r.x) ** 2)))
    assert problem is None, f"{name}, method {method}: {problem} ({r.message})"


def test_the_fuzz_has_teeth():
    """The generator's typical case is fitted and passes the check, and a point off the
    minimum fails it, so the property above is not vacuous."""
    t = np.linspace(0.0, 10.0, 40)
    rng = np.random.default_rng(1)
    y = 3.0 * np.exp(-0.7 * t) + 0.2 + 1e-3 * rng.standard_normal(t.size)

    def fun(p):
        return _expdecay(t, p)[0] - y

    def jac(p):
        return _expdecay(t, p)[1]

    r = trustfit.least_squares(fun, [2.0, 1.0, 0.0], jac=jac)
    assert r.success
    cost = 0.5 * float(np.sum(fun(r.x) ** 2))
    assert _independent_check(fun, jac, r.x, cost) is None
    off = r.x * (1.0 + 1e-4)
    assert "SciPy found cost" in _independent_check(fun, jac, off, 0.5 * float(
        np.sum(fun(off) ** 2)))
    with pytest.raises(AssertionError):
        assert _independent_check(fun, jac, off, 0.5 * float(np.sum(fun(off) ** 2))) is None
