"""
Bounds, and a parameter that ends on one
========================================

Bounds work in every method by projection with an active set: a parameter on a bound
whose gradient points outward is held for the iteration, and the step is computed over
the others. The gain ratio uses the step actually taken. Here a background that the data
would like to be negative is bounded at zero. The fit is certified, and the diagnosis
says that the bound, not the data, decides that value.
"""

import matplotlib.pyplot as plt
import numpy as np

import trustfit


def model(t, a, k, background):
    return a * np.exp(-k * t) + background


t = np.linspace(0.0, 6.0, 40)
rng = np.random.default_rng(5)
y = model(t, 2.0, 0.8, -0.05) + 0.02 * rng.standard_normal(t.size)

free = trustfit.fit(model, t, y, p0=[1, 1, 0.1])
bounded = trustfit.fit(model, t, y, p0=[1, 1, 0.1], bounds=([0, 0, 0], [np.inf, np.inf, 1]))
for label, r in (("free", free), ("background >= 0", bounded)):
    print(f"{label:16s} {np.round(r.x, 4)}  active_mask {r.active_mask}  success {r.success}")
print(trustfit.diagnose(bounded))

# %%
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
ax.plot(t, y, "k.", label="data")
for label, r in (("free", free), ("background >= 0", bounded)):
    ax.plot(t, model(t, *r.x), label=f"{label}: background {r.x[2]:.3f}")
ax.set(xlabel="t", ylabel="y", title="A bound that decides a parameter")
ax.legend()
