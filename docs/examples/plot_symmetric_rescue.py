"""
A symmetric start, rescued
==========================

From ``[0, 0, 0, 0]`` the textbook model ``x3 exp(x1 t) + x4 exp(x2 t)`` starts with two
identical terms. Their Jacobian columns stay equal, the gradient cannot separate them, and
every Gauss-Newton-type method stalls in the symmetric valley (SciPy's ``lm`` and ``trf``
among them). trustfit stalls there too, refuses to call it a success, diagnoses the
exchangeable parameters and (by default) restarts from a seeded perturbation that breaks
the symmetry.
"""

import matplotlib.pyplot as plt
import numpy as np
import scipy.optimize

import trustfit
from trustfit import examples as ex
from trustfit import plots

x0 = np.zeros(4)
scipy_lm = scipy.optimize.least_squares(ex.residuals, x0, method="lm")
print(f"SciPy lm:          cost {scipy_lm.cost:.6g}, success {scipy_lm.success}")

once = trustfit.least_squares(ex.residuals, x0, rescue=False)
print(f"trustfit, no rescue: cost {once.cost:.6g}, success {once.success}, "
      f"{once.stop_reason.name}")
print(trustfit.diagnose(once))

rescued = trustfit.least_squares(ex.residuals, x0)
print(f"trustfit (default): cost {rescued.cost:.6g}, success {rescued.success}, "
      f"{rescued.stop_reason.name}")
for event in rescued.events:
    print("-", event)

# %%
# The cost per iteration: the first run creeps along the valley, the restart (iterations
# after the dashed line) goes to the global minimum.

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
costs = [h.cost for h in rescued.history]
ax.semilogy(range(len(costs)), costs, "C0-")
starts = [i for i, (h, prev) in enumerate(zip(rescued.history[1:], rescued.history), start=1)
          if h.restart != prev.restart]
for i in starts:
    ax.axvline(i, color="C3", ls="--", lw=1)
ax.set(xlabel="iteration (all runs)", ylabel="cost", title="Stalled, then rescued")

# %%
# The final fit:

fig = plots.plot_fit(rescued, ex.model, ex.T, ex.Y, xlabel="t", ylabel="y",
                     title="Rescued from [0, 0, 0, 0]")
