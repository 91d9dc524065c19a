"""Multi-start: seeded designs, the best of N runs, and the textbook's two equivalent minima."""
from __future__ import annotations

import numpy as np
import pytest

import trustfit
from trustfit import examples as ex
from trustfit.core.events import MinimumFound, MultistartSummary
from trustfit.strategies.multistart import cluster, design_points


@pytest.fixture(scope="module")
def textbook16():
    return trustfit.multistart(ex.residuals, ex.STARTS[2], starts=16, jac=ex.jacobian)


def test_finds_global_minimum_and_its_mirror_image(textbook16):
    r = textbook16
    assert r.cost == pytest.approx(ex.MINIMUM_COST, abs=5e-8)
    best, mirror = r.minima[0], r.minima[1]
    assert best.cost == pytest.approx(ex.MINIMUM_COST, abs=5e-8)
    assert mirror.cost == pytest.approx(ex.MINIMUM_COST, abs=5e-8)
    assert mirror.equivalent_to == 0 and mirror.permutation == (1, 0, 3, 2)
    np.testing.assert_allclose(mirror.x, best.x[[1, 0, 3, 2]], rtol=1e-5)
    assert sum(m.count for m in r.minima) <= 16
    found = [e for e in r.events if isinstance(e, MinimumFound)]
    assert [m.index for m in found] == list(range(len(r.minima)))
    assert any(m.equivalent_to == 0 and m.swaps == (("x[0]", "x[1]"), ("x[2]", "x[3]"))
               for m in found)
    # Which start was best may depend on the BLAS kernel.
    (summary,) = [e for e in r.events if isinstance(e, MultistartSummary)]
    assert (summary.starts, summary.design, summary.seed) == (16, "sobol", 0)
    assert summary.minima == len(r.minima) and summary.best_cost == r.cost
    np.testing.assert_array_equal(r.x0, ex.STARTS[2])


def test_deterministic_and_independent_of_workers(textbook16):
    again = trustfit.multistart(ex.residuals, ex.STARTS[2], starts=16, jac=ex.jacobian,
                                workers=1)
    assert again.events == textbook16.events
    np.testing.assert_array_equal(again.x, textbook16.x)


def test_curve_fit_starts_uses_parameter_names():
    def f(t, x1, x2, x3, x4):
        return x3 * np.exp(x1 * t) + x4 * np.exp(x2 * t)

    r = trustfit.fit(f, ex.T, ex.Y, p0=[-1.0, -0.1, -10.0, 10.0], starts=8,
                     bounds=([-1, -1, -20, -20], [0, 0, 20, 20]))
    assert r.cost == pytest.approx(ex.MINIMUM_COST, abs=5e-8)
    assert r.minima and r.minima[0].cost == pytest.approx(ex.MINIMUM_COST, abs=5e-8)
    eq = [e for e in r.events if isinstance(e, MinimumFound) and e.equivalent_to is not None]
    assert all(e.swaps == (("x1", "x2"), ("x3", "x4")) for e in eq)


def test_design_points():
    x0 = np.array([0.0, 2.0, -3.0])
    lb = np.array([-1.0, -np.inf, -np.inf])
    ub = np.array([1.0, np.inf, 0.0])
    for design in ("sobol", "lhs"):
        pts = design_points(x0, lb, ub, 9, design, seed=3)
        assert pts.shape == (9, 3)
        np.testing.assert_array_equal(pts[0], x0)
        assert np.all(pts >= lb) and np.all(pts <= ub)
        # Unbounded coordinate: offsets up to ~10 |x0| around x0, log-scaled.
        assert np.all(np.abs(pts[1:, 1] - 2.0) <= 9.9 * 2.0)
        np.testing.assert_array_equal(pts, design_points(x0, lb, ub, 9, design, seed=3))
    with pytest.raises(ValueError, match="design must be one of"):
        design_points(x0, lb, ub, 4, "grid")


def test_cluster_counts_repeated_minima():
    a = trustfit.least_squares(ex.residuals, ex.STARTS[0], jac=ex.jacobian)
    b = trustfit.least_squares(ex.residuals, [-0.5, -0.1, -10, 10], jac=ex.jacobian)
    minima = cluster([a, b])
    assert len(minima) == 1 and minima[0].count == 2 and minima[0].starts == [0, 1]


def test_starts_is_validated():
    with pytest.raises(ValueError, match="starts must be a whole number >= 1 or None"):
        trustfit.least_squares(ex.residuals, ex.STARTS[0], starts=0)
