"""
A large sparse problem
======================

Broyden's tridiagonal system (Moré, Garbow & Hillstrom 1981, problem 30) with 2000
unknowns: each residual depends on three of them. Given the sparsity pattern
(``jac_sparsity``, as in SciPy), trustfit groups the columns so that a finite-difference
Jacobian costs a handful of evaluations instead of 2000, and solves each step with LSMR on
the sparse matrix (``tr_solver='lsmr'``). The certificate and the diagnosis use iterative
estimates instead of a dense SVD, and say so. The covariance of a sparse fit is formed
from a dense copy of the Jacobian up to a size, and the report says when it is not.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse

import trustfit
from trustfit.reference.problems import broyden_tridiagonal

n = 2000
fun, jac, pattern, x0 = broyden_tridiagonal(n)

start = time.perf_counter()
result = trustfit.least_squares(fun, x0, jac_sparsity=pattern)
elapsed = time.perf_counter() - start
print(f"n = {n}: cost {result.cost:.3g}, success {result.success}, "
      f"{result.stop_reason.name}, {result.nfev} evaluations, {elapsed:.2f} s")
print("Jacobian:", type(result.jac).__name__, result.jac.shape, "nnz", result.jac.nnz)
print(trustfit.diagnose(result))

# %%
# With the analytic sparse Jacobian:

result = trustfit.least_squares(fun, x0, jac=jac, tr_solver="lsmr")
print(f"cost {result.cost:.3g}, {result.stop_reason.name}, {result.nit} iterations")

# %%
fig, (ax_spy, ax_cost) = plt.subplots(1, 2, figsize=(8, 3.8), layout="constrained")
ax_spy.spy(jac(x0)[:40, :40], markersize=3)
ax_spy.set_title("Jacobian pattern (first 40 x 40)")
ax_cost.semilogy([h.iteration for h in result.history],
                 [max(h.cost, 1e-300) for h in result.history], "o-")
ax_cost.set(xlabel="iteration", ylabel="cost", title=f"Broyden tridiagonal, n = {n}")

# %%
# Standard errors of a sparse fit
# -------------------------------
#
# Broyden's system is square (no degrees of freedom, so no standard errors). A smoothing
# fit has them: 200 noisy samples and a penalty on their differences, 399 residuals with a
# sparse Jacobian. For the covariance, ``report()`` and ``curve_fit``'s ``pcov`` the sparse
# Jacobian is made dense, up to 5,000 parameters and 5e7 entries (SciPy's ``curve_fit``
# fails on a sparse ``res.jac``):


def smoothing(n, weight=3.0):
    rng = np.random.default_rng(2)
    y = np.sin(6 * np.linspace(0, 1, n)) + 0.1 * rng.standard_normal(n)
    difference = scipy.sparse.diags([-np.ones(n - 1), np.ones(n - 1)], [0, 1],
                                    shape=(n - 1, n))
    J = scipy.sparse.vstack([scipy.sparse.identity(n), weight * difference]).tocsr()
    return (lambda p: np.concatenate([p - y, weight * np.diff(p)])), (lambda p: J)


fun_s, jac_s = smoothing(200)
smooth = trustfit.least_squares(fun_s, np.zeros(200), jac=jac_s, tr_solver="lsmr")
print("\n".join(smooth.report().splitlines()[:9]))

# %%
# Beyond that size the report gives the values and says why there are no standard errors
# (``trustfit.analysis.uncertainty.covariance`` raises a ``ValueError`` saying the same):

fun_s, jac_s = smoothing(6000)
smooth = trustfit.least_squares(fun_s, np.zeros(6000), jac=jac_s, tr_solver="lsmr")
print("\n".join(smooth.report().splitlines()[:6]))
