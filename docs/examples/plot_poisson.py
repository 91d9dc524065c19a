"""
Counts: Poisson maximum likelihood
==================================

A decay recorded as counts in 64 time bins, many of them zero. Least squares with
``sigma = sqrt(y)`` cannot use the zeros and biases the lifetime; ``noise='poisson'``
maximises the Poisson likelihood (as least squares on deviance residuals, with every
method, bounds, the certificate and the rescue). The standard errors are the inverse Fisher
information; the result adds the deviance, Pearson's chi-square with their p-values, and
notes when too many bins have few counts for those p-values to be trusted.
"""

import matplotlib.pyplot as plt
import numpy as np

import trustfit


def decay(t, amplitude, lifetime, background):
    return amplitude * np.exp(-t / lifetime) + background


t = np.arange(64) * 0.25
rng = np.random.default_rng(8)
counts = rng.poisson(decay(t, 30.0, 2.0, 0.3))
print("zero bins:", int(np.sum(counts == 0)), "of", counts.size)

bounds = ([0, 0.01, 0], [np.inf, np.inf, np.inf])
mle = trustfit.fit(decay, t, counts, p0=[10, 1, 1], noise="poisson", bounds=bounds)
print("Poisson MLE:", np.round(mle.x, 4), "stderr", np.round(mle.stderr, 4))
print(f"deviance {mle.deviance:.2f} (p = {mle.deviance_pvalue:.2f}), dof {mle.dof}")
for note in mle.notes:
    print("note:", note)

lsq = trustfit.fit(decay, t, counts, p0=[10, 1, 1], sigma=np.sqrt(np.maximum(counts, 1)),
                   bounds=bounds)
print("least squares, sigma = sqrt(max(y, 1)):", np.round(lsq.x, 4))
print("true: [30, 2, 0.3]")

# %%
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
ax.step(t, counts, where="mid", color="k", label="counts")
grid = np.linspace(0, t[-1], 300)
ax.plot(grid, decay(grid, *mle.x), "C1-", label=f"Poisson MLE, lifetime {mle.x[1]:.3f}")
ax.plot(grid, decay(grid, *lsq.x), "C0--", label=f"least squares, lifetime {lsq.x[1]:.3f}")
ax.set(xlabel="t", ylabel="counts per bin", yscale="symlog", title="Counts with zeros")
ax.legend()

# %%
# Many decays at once
# -------------------
#
# :func:`trustfit.fit_batch` with ``noise='poisson'`` fits every row of a stack of counts by
# maximum likelihood (here 200 decays on the numpy backend; a large stack compiles the
# kernel of the counts once). Each curve gets the batch's certificate and the inverse
# Fisher information's standard errors; the :class:`~trustfit.batch._poisson.PoissonBatchResult`
# adds the deviance, Pearson's chi-square and their p-values per curve, and ``notes``.

stack = rng.poisson(decay(t, 30.0, 2.0, 0.3), size=(200, t.size))
batch = trustfit.fit_batch("amplitude*exp(-t/lifetime) + background", t, stack,
                           {"amplitude": 10.0, "lifetime": 1.0, "background": 1.0},
                           bounds={"background": (0, np.inf)}, noise="poisson",
                           backend="numpy")
lifetimes = batch.params[batch.success, 1]
print(type(batch).__name__, "certified:", int(batch.success.sum()), "of", len(batch.success))
print(f"lifetime: mean {lifetimes.mean():.4f}, spread {lifetimes.std():.4f}, "
      f"median standard error {np.median(batch.stderr[batch.success, 1]):.4f} (true 2)")
print("median deviance p-value:", round(float(np.nanmedian(batch.deviance_pvalue)), 3))
for note in batch.notes:
    print("note:", note)

# %%
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.hist(lifetimes, bins=25, color="C1")
ax.axvline(2.0, color="k", ls="--", label="true lifetime")
ax.set(xlabel="fitted lifetime", ylabel="curves",
       title=f"fit_batch(noise='poisson'): {lifetimes.size} certified decays")
ax.legend()
