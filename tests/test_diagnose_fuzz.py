"""``diagnose`` and ``report`` read any result without raising or warning (issue 12, item 8).

A fuzzer builds results the way ``least_squares`` could return them and beyond: Jacobians
with inf / nan entries, zero or duplicate columns, fewer residuals than parameters, one
parameter, entries from 1e-300 to 1e300, every stop reason, empty histories. Each must
give a Diagnosis and a text report; the suite runs with warnings as errors, so a leaked
RuntimeWarning fails too. Then real fits of odd problems, end to end."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustfit.analysis.diagnostics import Diagnosis, diagnose, sparse_null_basis
from trustfit.core.result import FitResult, StopReason

pytestmark = pytest.mark.fuzz

SPECIAL = (0.0, np.inf, -np.inf, np.nan, 1e300, -1e300, 1e-300, 5e-324)


@st.composite
def odd_results(draw) -> FitResult:
    m = draw(st.integers(1, 6))
    n = draw(st.integers(1, 4))
    scale = 10.0 ** draw(st.integers(-300, 300))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    J = rng.normal(size=(m, n)) * scale
    kind = draw(st.sampled_from(("plain", "zero_col", "dup_col", "special", "rank1")))
    if kind == "zero_col":
        J[:, draw(st.integers(0, n - 1))] = 0.0
    elif kind == "dup_col" and n > 1:
        J[:, 1] = J[:, 0] * draw(st.sampled_from((1.0, -1.0, 1.05)))
    elif kind == "special":
        for _ in range(draw(st.integers(1, 3))):
            J[draw(st.integers(0, m - 1)), draw(st.integers(0, n - 1))] = draw(
                st.sampled_from(SPECIAL))
    elif kind == "rank1":
        J = np.outer(rng.normal(size=m), rng.normal(size=n)) * scale
    fun = rng.normal(size=m) * 10.0 ** draw(st.integers(-300, 300))
    if draw(st.booleans()):
        fun[draw(st.integers(0, m - 1))] = draw(st.sampled_from(SPECIAL))
    x = rng.normal(size=n) * 10.0 ** draw(st.integers(-200, 200))
    if draw(st.booleans()):
        x[draw(st.integers(0, n - 1))] = draw(st.sampled_from((0.0, 1e300, -1e-300)))
    with np.errstate(all="ignore"):
        cost = 0.5 * float(fun @ fun)
        grad = J.T @ fun
    reason = draw(st.sampled_from(list(StopReason)))
    active = np.array(draw(st.lists(st.sampled_from((-1, 0, 1)), min_size=n, max_size=n)))
    x0 = x + rng.normal(size=n) if draw(st.booleans()) else x.copy()
    return FitResult(
        x=x, cost=cost, fun=fun, jac=J, grad=grad, optimality=float(np.max(np.abs(grad))),
        active_mask=active, nfev=3, njev=2, nit=draw(st.integers(0, 3)), method="lm",
        stop_reason=reason, stop_value=draw(st.sampled_from((1.0, np.nan, np.inf))),
        x0=x0, bounds=(np.full(n, -np.inf), np.full(n, np.inf)),
        jac_method=draw(st.sampled_from(("callable", "2-point", "3-point", "5-point"))))


@settings(max_examples=300, deadline=None)
@given(odd_results())
def test_diagnose_and_report_never_raise(result):
    diagnosis = diagnose(result)
    assert isinstance(diagnosis, Diagnosis)
    for finding in diagnosis:
        assert finding.code and finding.message
    text = result.report(full=True)
    assert result.stop_reason.name in text


def test_sparse_null_basis_of_a_degenerate_block_does_not_raise():
    # Two null vectors equal up to rounding: the pivoted block is singular.
    v = np.array([0.6, 0.8, 0.0])
    N = np.column_stack([v, v * (1 + 1e-17)])
    B = sparse_null_basis(N)
    assert B.shape[0] == 3 and np.all(np.isfinite(B))


def test_null_space_of_a_column_of_1e_300_is_finite_on_every_blas_kernel():
    """Found by the fuzz under OPENBLAS_CORETYPE=SkylakeX: the null vector scaled to parameter
    units had entries near 1e-300, whose norm underflowed to 0 in that kernel's nrm2, and
    diagnose raised from SciPy's qr ("array must not contain infs or NaNs")."""
    from trustfit.analysis.uncertainty import covariance

    x = np.array([-0.53566937, 0.36159505, 1.30400005])
    r = FitResult(x=x, cost=0.0055, fun=np.array([0.10490012]),
                  jac=np.array([[1.25730221e-001, 1.0e-300, 6.40422650e-001]]),
                  grad=np.array([1.3e-2, 1.0e-301, 6.7e-2]), optimality=0.067,
                  active_mask=np.zeros(3, dtype=int), nfev=3, njev=2, nit=0, method="lm",
                  stop_reason=StopReason.GRADIENT, stop_value=1.0, history=[], nfev_fd=0,
                  x0=x.copy(), bounds=(np.full(3, -np.inf), np.full(3, np.inf)), events=[],
                  jac_method="callable")
    null = covariance(r).null_space
    assert null.shape == (3, 2) and np.all(np.isfinite(null))
    np.testing.assert_allclose(np.linalg.norm(null, axis=0), 1.0, rtol=1e-12)
    diagnose(r)  # does not raise
    assert isinstance(r.report(), str)
