"""Brief and full text reports."""
from __future__ import annotations

import numpy as np

import trustfit
from reference_problems import bound_active
from trustfit import examples as ex
from trustfit.analysis import uncertainty as st


def two_exp(t, x1, x2, x3, x4):
    return x3 * np.exp(x1 * t) + x4 * np.exp(x2 * t)


def test_brief_report_of_a_good_fit():
    r = trustfit.fit(two_exp, ex.T, ex.Y, p0=ex.STARTS[0])
    text = r.report()
    lines = text.splitlines()
    assert lines[0] == f"Fit with method '{r.method}': converged."
    assert lines[1] == f"Stop reason {r.stop_reason.name}: {r.message}"
    assert lines[3].startswith("Cost 0.0255953 (chi-square 0.0511906, reduced 0.00731294, "
                               "11 residuals, 4 parameters).")
    se = st.standard_errors(r)
    ci = st.confidence_intervals(r)
    row = next(line for line in lines if line.startswith("x1 "))
    assert row.split()[1:3] == [f"{r.x[0]:.7g}", f"{se[0]:.4g}"]
    assert row.endswith(f"[{ci[0, 0]:.6g}, {ci[0, 1]:.6g}]")
    assert "Correlations above 0.9:" in lines and "  x3, x4: -0.9996" in lines
    assert "Findings: none." in lines
    assert "Run:" not in text  # the full report's lines


def test_full_report_lists_findings_with_advice_and_numbers():
    r = trustfit.least_squares(bound_active.fun, [1.0, 0.1], jac=bound_active.jac,
                               bounds=bound_active.bounds)
    text = r.report(full=True)
    assert "x[1]                  0.3" in text and text.count("at bound") == 1
    assert ("  [warning] at_bound: The fit ends with x[1] at its upper bound 0.3: the bound, "
            "not the data, decides this value.") in text
    assert "      advice: Widen the bound if it is not physical" in text
    assert "      value 1\n" in text + "\n"
    assert "Covariance: rank 2 of 2" in text and "Goodness of fit: dof 7" in text


def test_rank_deficient_parameters_are_marked_undetermined():
    t = np.linspace(0, 4, 9)
    y = 2 * np.exp(-t) + 0.01 * np.cos(5 * t)
    r = trustfit.fit(lambda t, b0, b1: b0 * b1 * np.exp(-t), t, y, p0=[3.0, 0.5])
    text = r.report()
    assert [line.split()[2] for line in text.splitlines()
            if line.startswith(("b0 ", "b1 "))] == ["undetermined", "undetermined"]
    assert ("  [error] rank_deficient: The Jacobian has rank 1 < 2 at the solution: only "
            "b0·b1 is determined.") in text
