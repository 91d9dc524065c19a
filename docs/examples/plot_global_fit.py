"""
A global fit: shared parameters across data sets
================================================

Three decays measured at different temperatures share one lifetime but have their own
amplitudes and backgrounds. Fitting them together determines the shared lifetime from all
the data. This example writes the global fit by hand, stacking the weighted residuals of
every data set into one vector for :func:`trustfit.least_squares`; see :doc:`/global_fits`
for trustfit's ``fit_global``, which does this bookkeeping for you.
"""

import matplotlib.pyplot as plt
import numpy as np

import trustfit

rng = np.random.default_rng(11)
sets = []
for amplitude, background, m in ((3.0, 0.2, 30), (1.5, 0.5, 25), (0.8, 0.1, 40)):
    t = np.sort(rng.uniform(0.0, 6.0, m))
    y = amplitude * np.exp(-t / 1.7) + background + 0.04 * rng.standard_normal(m)
    sets.append((t, y, 0.04))


def residuals(p):
    lifetime, rest = p[0], p[1:].reshape(-1, 2)       # shared, then (amplitude, background)
    return np.concatenate([(a * np.exp(-t / lifetime) + c - y) / s
                           for (t, y, s), (a, c) in zip(sets, rest)])


names = ("lifetime", "a1", "c1", "a2", "c2", "a3", "c3")
x0 = [1.0] + [1.0, 0.0] * len(sets)
result = trustfit.least_squares(residuals, x0)
print(result.success, result.stop_reason.name)

# %%
# Each data set alone, for comparison: the shared fit's lifetime is determined better than
# any single one.

from trustfit.analysis import uncertainty

stderr = uncertainty.standard_errors(result)
print(f"global:  lifetime {result.x[0]:.4f} +- {stderr[0]:.4f}")
for i, (t, y, s) in enumerate(sets, start=1):
    single = trustfit.curve_fit(lambda t, tau, a, c: a * np.exp(-t / tau) + c, t, y,
                                p0=[1, 1, 0], sigma=np.full(t.size, s), absolute_sigma=True)
    print(f"set {i}:   lifetime {single[0][0]:.4f} +- {np.sqrt(single[1][0, 0]):.4f}")

# %%
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
grid = np.linspace(0, 6, 200)
for i, ((t, y, s), (a, c)) in enumerate(zip(sets, result.x[1:].reshape(-1, 2))):
    ax.errorbar(t, y, s, fmt="o", ms=3, color=f"C{i}", label=f"set {i + 1}")
    ax.plot(grid, a * np.exp(-grid / result.x[0]) + c, color=f"C{i}")
ax.set(xlabel="t", ylabel="y", title=f"Shared lifetime {result.x[0]:.3f}")
ax.legend()
