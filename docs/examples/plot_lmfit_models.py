"""
Models the lmfit way: a peak on a slope
=======================================

lmfit's model workflow, on trustfit's solvers: models from callables or expression
strings (exact symbolic Jacobians), combined with ``+``, parameters with bounds and
constraints, ``fit_report()``, the confidence band of the fitted curve and each component.
Code written for lmfit's ``Model`` runs after changing the import.
"""

import matplotlib.pyplot as plt
import numpy as np

from trustfit import Model
from trustfit.models import gaussian


def lorentz(x, amp, cen, wid):
    return amp * wid ** 2 / ((x - cen) ** 2 + wid ** 2)


x = np.linspace(0.0, 10.0, 151)
rng = np.random.default_rng(9)
y = (lorentz(x, 3.0, 6.2, 0.5) + 2.0 * np.exp(-(x - 3.5) ** 2 / (2 * 0.6 ** 2))
     + 0.15 * x + 0.5 + 0.05 * rng.standard_normal(x.size))

peak = Model(lorentz, prefix="l_")
background = Model("slope*x + intercept")
mod = peak + gaussian + background
print(mod)
pars = mod.make_params(l_amp=2, l_cen=6, l_wid={"value": 1, "min": 0.01},
                       amplitude=1, center=3, sigma={"value": 1, "min": 0.01}, offset=0,
                       slope=0, intercept=0)
pars["offset"].set(value=0, vary=False)      # the linear background carries the offset
result = mod.fit(y, pars, x=x, sigma=0.05)
print(result.fit_report())

# %%
# The fit, its 95 % band (delta method), and each component:

grid = np.linspace(0, 10, 400)
band = result.eval_uncertainty(x=grid, sigma=2)
best = result.eval(x=grid)
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
ax.plot(x, y, "k.", ms=3, label="data")
ax.fill_between(grid, best - band, best + band, color="C1", alpha=0.3, label="2 sigma band")
ax.plot(grid, best, "C1-", label="fit")
for name, part in result.eval_components(x=grid).items():
    ax.plot(grid, np.broadcast_to(part, grid.shape), "--", lw=1, label=name or "component")
ax.set(xlabel="x", ylabel="y", title="Lorentzian + Gaussian + line")
ax.legend(fontsize=8)
