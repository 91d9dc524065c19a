"""
Robust losses against outliers
==============================

Ten percent of the points carry gross errors. Least squares follows them; a robust loss
``rho(z)`` (``'soft_l1'``, ``'huber'``, ``'cauchy'``, ``'arctan'``, SciPy's names and
meanings, with ``f_scale`` the residual size where it starts to bend) down-weights them.
Every method of trustfit takes every loss. The result's ``fun`` and ``jac`` are the robust
residuals ``C sign(f) sqrt(rho(f^2/C^2))`` and their Jacobian, so ``cost = 1/2 ||fun||^2``
holds for every result; the raw residuals are ``fun(result.x)``.
"""

import matplotlib.pyplot as plt
import numpy as np

import trustfit
from trustfit.reference.problems import gross_outliers

t = np.linspace(0.0, 10.0, 60)
clean = 3.0 * np.exp(-0.35 * t) + 0.4
rng = np.random.default_rng(4)
y = gross_outliers(clean + 0.03 * rng.standard_normal(t.size), seed=4, size=1.0)


def residuals(p):
    return p[0] * np.exp(-p[1] * t) + p[2] - y


fits = {}
for loss in ("linear", "soft_l1", "huber", "cauchy"):
    fits[loss] = trustfit.least_squares(residuals, [1.0, 1.0, 0.0], loss=loss, f_scale=0.05)
    r = fits[loss]
    print(f"{loss:8s} a={r.x[0]:.4f} k={r.x[1]:.4f} c={r.x[2]:.4f}   {r.stop_reason.name}")
print("true     a=3.0000 k=0.3500 c=0.4000")

# %%
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
ax.plot(t, y, "k.", label="data (10 % gross outliers)")
grid = np.linspace(0, 10, 300)
for loss, r in fits.items():
    ax.plot(grid, r.x[0] * np.exp(-r.x[1] * grid) + r.x[2], label=loss)
ax.set(xlabel="t", ylabel="y", ylim=(-1.5, 4.5), title="Robust losses, f_scale = 0.05")
ax.legend()
