"""
Multi-start: every minimum, and how often it was found
======================================================

Fitting the frequency of a sinusoid has a local minimum near every harmonic: the
answer depends on the start. :func:`trustfit.multistart` runs the fit from seeded Sobol
(or Latin hypercube) starts within the bounds, returns the best, and lists the distinct
minima in ``result.minima`` with how many starts found each.
"""

import matplotlib.pyplot as plt
import numpy as np

import trustfit

t = np.linspace(0.0, 10.0, 200)
rng = np.random.default_rng(3)
y = 1.5 * np.sin(2.3 * t + 0.4) + 0.1 * rng.standard_normal(t.size)


def residuals(p):
    amplitude, omega, phase = p
    return amplitude * np.sin(omega * t + phase) - y


bounds = ([0.1, 0.1, -np.pi], [5.0, 5.0, np.pi])
result = trustfit.multistart(residuals, [1.0, 1.0, 0.0], starts=16, bounds=bounds, seed=1)
print("best:", result.x, "cost", result.cost, result.stop_reason.name)
print(f"{len(result.minima)} distinct minima:")
for m in sorted(result.minima, key=lambda m: m.cost):
    print(f"  cost {m.cost:10.4g}  found {m.count:2d} times  at {np.round(m.x, 3)}")

# %%
# The cost as a function of the frequency (amplitude and phase re-fitted linearly at each
# frequency), with the minima found:

omegas = np.linspace(0.1, 5.0, 600)
profile = []
for w in omegas:
    A = np.column_stack([np.sin(w * t), np.cos(w * t)])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    profile.append(0.5 * np.sum((A @ coef - y) ** 2))
fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
ax.plot(omegas, profile, "0.4")
for m in result.minima:
    ax.plot(m.x[1], m.cost, "o", ms=4 + 2 * m.count, alpha=0.7)
ax.set(xlabel="frequency omega", ylabel="cost", yscale="log",
       title="Minima found by 16 starts (marker size: how often)")
