"""
A large sparse problem
======================

Broyden's tridiagonal system (Moré, Garbow & Hillstrom 1981, problem 30) with 2000
unknowns: each residual depends on three of them. Given the sparsity pattern
(``jac_sparsity``, as in SciPy), trustfit groups the columns so that a finite-difference
Jacobian costs a handful of evaluations instead of 2000, and solves each step with LSMR on
the sparse matrix (``tr_solver='lsmr'``). The certificate and the diagnosis use iterative
estimates instead of a dense SVD, and say so.
"""

import time

import matplotlib.pyplot as plt

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
