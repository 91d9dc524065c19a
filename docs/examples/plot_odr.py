"""
Errors in x and y: orthogonal distance regression
=================================================

Pearson's data with York's weights is the classic test of fitting a line when both
coordinates carry errors of different sizes point by point. :func:`trustfit.odr` (or
``sigma_x=`` in ``curve_fit`` and ``fit``) minimises

.. math::

   \\sum_i \\left(\\frac{y_i - f(x_i + \\delta_i, p)}{\\sigma_i}\\right)^2
   + \\sum_i \\left(\\frac{\\delta_i}{\\sigma_{x,i}}\\right)^2

over the parameters and the corrections :math:`\\delta`. The published exact solution is
intercept 5.47991, slope -0.480533 (York 1966; Reed 1989).
"""

import matplotlib.pyplot as plt
import numpy as np

import trustfit

x = np.array([0, 0.9, 1.8, 2.6, 3.3, 4.4, 5.2, 6.1, 6.5, 7.4])
y = np.array([5.9, 5.4, 4.4, 4.6, 3.5, 3.7, 2.8, 2.8, 2.4, 1.5])
wx = np.array([1000, 1000, 500, 800, 200, 80, 60, 20, 1.8, 1.0])
wy = np.array([1, 1.8, 4, 8, 20, 20, 70, 70, 100, 500.0])


def line(x, a, b):
    return a + b * x


r = trustfit.odr(line, x, y, [6.0, -0.5], sigma=1 / np.sqrt(wy), sigma_x=1 / np.sqrt(wx))
print(f"intercept {r.x[0]:.6f}  slope {r.x[1]:.7f}   (exact: 5.47991, -0.480533)")
print("standard errors", r.stderr, " success", r.success, r.stop_reason.name)

ols = trustfit.fit(line, x, y, p0=[6.0, -0.5], sigma=1 / np.sqrt(wy))
print(f"errors in y only: intercept {ols.x[0]:.5f}  slope {ols.x[1]:.6f}")

# %%
# Each point moves to where the line passes, by the amount its errors allow (the ellipses
# are one standard deviation):

fig, ax = plt.subplots(figsize=(6.5, 5), layout="constrained")
from matplotlib.patches import Ellipse

for xi, yi, sx, sy in zip(x, y, 1 / np.sqrt(wx), 1 / np.sqrt(wy)):
    ax.add_patch(Ellipse((xi, yi), 2 * sx, 2 * sy, fill=False, color="0.6"))
ax.plot(x, y, "ko", label="data")
ax.plot(r.x_adjusted, line(r.x_adjusted, *r.x), "C1s", ms=4, label="adjusted points")
grid = np.linspace(-0.5, 8, 50)
ax.plot(grid, line(grid, *r.x), "C1-", label="ODR (errors in x and y)")
ax.plot(grid, line(grid, *ols.x), "C0--", label="errors in y only")
ax.set(xlabel="x", ylabel="y", title="Pearson's data, York's weights", xlim=(-0.5, 8))
ax.legend()

# %%
# Many curves with errors in x
# ----------------------------
#
# ``fit_batch(..., sigma_x=...)`` fits every row of a stack by orthogonal distance
# regression (each curve by :func:`trustfit.odr`, certified as a single fit, on the numpy
# backend; ``backend_reason`` says why). The
# :class:`~trustfit.batch._odr.OdrBatchResult` adds the corrections ``delta`` and
# ``x_adjusted`` per curve. Here 50 repetitions of Pearson's experiment, with the noise
# York's weights describe:

rng = np.random.default_rng(4)
true_x = x
xs = true_x + rng.standard_normal((50, x.size)) / np.sqrt(wx)
ys = line(true_x, 5.47991, -0.480533) + rng.standard_normal((50, x.size)) / np.sqrt(wy)
batch = trustfit.fit_batch("a + b*x", xs, ys, {"a": 6.0, "b": -0.5}, independent="x",
                           sigma=1 / np.sqrt(wy), sigma_x=1 / np.sqrt(wx),
                           absolute_sigma=True)
print(type(batch).__name__, "|", batch.backend_reason)
print("certified:", int(batch.success.sum()), "of", len(batch.success))
print("slope: mean", batch.params[:, 1].mean().round(5), " spread",
      batch.params[:, 1].std().round(5), " median standard error",
      np.median(batch.stderr[:, 1]).round(5))
print("corrections of curve 0:", np.round(batch.delta[0], 3))

# %%
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.hist(batch.params[:, 1], bins=15, color="C1")
ax.axvline(-0.480533, color="k", ls="--", label="slope of the simulation")
ax.set(xlabel="fitted slope", ylabel="curves", title="fit_batch(sigma_x=...): 50 curves")
ax.legend()
