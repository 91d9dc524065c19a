"""
A global fit: shared parameters across data sets
================================================

Three decays measured at different temperatures share one lifetime but have their own
amplitudes and backgrounds, and their own time grids. :func:`trustfit.fit_global` fits
them together: the lifetime is determined by all the data, each amplitude and background
by its own data set. The local parameters are eliminated from every step by a small QR per
data set (see :doc:`/global_fits`), and the result is certified as every trustfit fit.
"""

import matplotlib.pyplot as plt
import numpy as np

import trustfit

rng = np.random.default_rng(11)
datasets = {}
for name, amplitude, background, m in (("20 C", 3.0, 0.2, 30), ("30 C", 1.5, 0.5, 25),
                                       ("40 C", 0.8, 0.1, 40)):
    t = np.sort(rng.uniform(0.0, 6.0, m))
    y = amplitude * np.exp(-t / 1.7) + background + 0.04 * rng.standard_normal(m)
    datasets[name] = (t, y, 0.04)                     # (x, y, sigma)

# sigma is known (0.04), so the standard errors are not rescaled by the reduced chi-square
result = trustfit.fit_global("a*exp(-t/tau) + c", datasets, shared=["tau"],
                             p0={"tau": 1.0, "a": 1.0, "c": 0.0}, absolute_sigma=True)
print(result.report())

# %%
# The shared parameter with its standard error, and one row per data set for its own
# parameters (a pandas DataFrame):

print("tau =", result.shared["tau"], "+-", result.shared_stderr[0])
print(result.to_dataframe().round(4))

# %%
# Each data set alone determines the lifetime less well than all of them together:

for name, (t, y, s) in datasets.items():
    popt, pcov = trustfit.curve_fit(lambda t, tau, a, c: a * np.exp(-t / tau) + c, t, y,
                                    p0=[1.0, 1.0, 0.0], sigma=np.full(t.size, s),
                                    absolute_sigma=True)
    print(f"{name} alone: tau {popt[0]:.4f} +- {np.sqrt(pcov[0, 0]):.4f}")

# %%
# The same fit written by hand, the residuals of every data set stacked into one vector for
# :func:`trustfit.least_squares`, reaches the same parameters; ``fit_global`` does this
# bookkeeping, names the data sets in its diagnosis, and its work grows linearly with the
# number of data sets.

sets = list(datasets.values())


def stacked(p):
    tau, rest = p[0], p[1:].reshape(-1, 2)            # shared, then (a, c) per data set
    return np.concatenate([(a * np.exp(-t / tau) + c - y) / s
                           for (t, y, s), (a, c) in zip(sets, rest)])


by_hand = trustfit.least_squares(stacked, [1.0] + [1.0, 0.0] * len(sets))
print("largest difference of the parameters:", np.max(np.abs(by_hand.x - result.x)))

# %%
# :func:`trustfit.plots.plot_global` draws one panel per data set, the shared values in the
# title:

fig = trustfit.plots.plot_global(result, cols=3, sharey=True)
plt.show()
