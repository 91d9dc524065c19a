"""Test problems beside the NIST data, shared by the tests and the benchmarks: the sparse
problems of Moré, Garbow & Hillstrom (1981, "Testing unconstrained optimization software",
ACM TOMS 7) and gross outliers for the robust losses."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def broyden_tridiagonal(n: int):
    """MGH problem 30: ``f_i = (3 - 2 x_i) x_i - x_{i-1} - 2 x_{i+1} + 1`` (``x_0 = x_{n+1}
    = 0``), a zero-residual square system. Returns ``(fun, jac, pattern, x0)``: the sparse
    (CSR) Jacobian, its tridiagonal pattern and MGH's start ``x0 = -1``."""
    def fun(x):
        f = (3.0 - 2.0 * x) * x + 1.0
        f[1:] -= x[:-1]
        f[:-1] -= 2.0 * x[1:]
        return f

    def jac(x):
        return sp.diags([-np.ones(n - 1), 3.0 - 4.0 * x, -2.0 * np.ones(n - 1)], [-1, 0, 1],
                        format="csr")

    pattern = sp.diags([np.ones(n - 1), np.ones(n), np.ones(n - 1)], [-1, 0, 1], format="csr")
    return fun, jac, pattern, -np.ones(n)


def gross_outliers(y: np.ndarray, seed: int, size: float) -> np.ndarray:
    """``y`` with 10 % of its points moved by gross errors of ``size`` to ``2 size`` in either
    direction (the same points and errors for the same ``seed``)."""
    rng = np.random.default_rng(seed)
    y = y.copy()
    idx = rng.choice(y.size, y.size // 10, replace=False)
    y[idx] += size * (1.0 + rng.random(idx.size)) * rng.choice([-1.0, 1.0], idx.size)
    return y
