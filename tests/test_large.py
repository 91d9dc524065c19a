"""Large m (issue 12, "Thin SVD everywhere"): the covariance was an m x m SVD, so
``curve_fit`` with 1e5 points raised MemoryError and ``trustfit fit`` on a 100k-row CSV
exited 3. Checked against SciPy's ``curve_fit`` (method 'trf', tight tolerances, started at
the true parameters) on the same data."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.optimize

import trustfit

M = 100_000


def decay(t, a, b, c):
    return a * np.exp(-b * t) + c


@pytest.fixture(scope="module")
def data():
    t = np.linspace(0.0, 10.0, M)
    y = decay(t, 3.0, 0.5, 1.0) + np.random.default_rng(0).normal(0.0, 0.05, M)
    popt, pcov = scipy.optimize.curve_fit(decay, t, y, p0=[3.0, 0.5, 1.0], method="trf",
                                          ftol=1e-15, xtol=1e-15, gtol=1e-15)
    return t, y, popt, pcov


def test_curve_fit_with_1e5_points_matches_scipy(data):
    t, y, popt, pcov = data
    p, c = trustfit.curve_fit(decay, t, y, p0=[1.0, 1.0, 0.0])
    np.testing.assert_allclose(p, popt, rtol=1e-8)
    np.testing.assert_allclose(c, pcov, rtol=1e-5)


def test_cli_fits_a_100k_row_csv(tmp_path, data):
    pytest.importorskip("sympy")
    t, y, popt, pcov = data
    path = tmp_path / "big.csv"
    np.savetxt(path, np.column_stack([t, y]), delimiter=",", header="t,y", comments="",
               fmt="%.17g")
    out = tmp_path / "fit.json"
    p = subprocess.run([sys.executable, "-m", "trustfit", "fit", str(path), "--model",
                        "a*exp(-b*t) + c", "--x", "t", "--y", "y", "--p0", "a=1,b=1,c=0",
                        "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    d = json.loads(out.read_text())
    assert d["success"] is True and d["points"] == M
    values = [d["parameters"][k]["value"] for k in "abc"]
    stderr = [d["parameters"][k]["stderr"] for k in "abc"]
    np.testing.assert_allclose(values, popt, rtol=1e-8)
    np.testing.assert_allclose(stderr, np.sqrt(np.diag(pcov)), rtol=1e-5)
