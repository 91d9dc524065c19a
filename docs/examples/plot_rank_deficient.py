"""
A rank-deficient fit: only a product is determined
==================================================

In ``y = a b x`` the data determine the product ``a b`` and nothing else: every point of
the hyperbola ``a b = const`` fits equally well. SciPy's ``curve_fit`` returns ``inf`` in
``pcov`` (``lm``) or an unflagged Moore-Penrose inverse (``trf``) with a generic warning.
trustfit returns a generalised inverse in column-scaled coordinates, flags it, names the
combination that *is* determined, and refuses to call the point certified.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np

import trustfit
from trustfit.analysis import uncertainty


def model(x, a, b):
    return a * b * x


x = np.linspace(0.0, 4.0, 20)
rng = np.random.default_rng(2)
y = model(x, 2.0, 1.5) + 0.05 * rng.standard_normal(x.size)

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    popt, pcov = trustfit.curve_fit(model, x, y, p0=[1.0, 1.0])
for w in caught:
    print(f"{w.category.__name__}: {w.message}")
print("popt =", popt, " product a*b =", popt[0] * popt[1])
print("pcov =\n", pcov)

# %%
# The full result says why: the stop reason is ``DEGENERATE`` and the diagnosis names
# the combination.

result = trustfit.fit(model, x, y, p0=[1.0, 1.0])
print(result.stop_reason.name, result.success)
print(trustfit.diagnose(result))
cov = uncertainty.covariance(result)
print("rank", cov.rank, "of", cov.matrix.shape[0], "; undetermined direction:",
      cov.null_space.ravel())

# %%
# The cost over ``(a, b)``: a valley along the hyperbola ``a b = const``, flat along it.

a, b = np.meshgrid(np.linspace(0.5, 4, 200), np.linspace(0.5, 4, 200))
cost = 0.5 * ((a[..., None] * b[..., None] * x - y) ** 2).sum(axis=-1)
fig, ax = plt.subplots(figsize=(6, 5), layout="constrained")
levels = np.quantile(cost, np.linspace(0.0, 0.6, 12))
ax.contour(a, b, cost, levels=levels, cmap="viridis")
ax.plot(*popt, "r*", ms=14, label="trustfit's answer")
ax.plot(a[0], (popt[0] * popt[1]) / a[0], "r--", lw=1, label="a b = const: all equally good")
ax.set(xlabel="a", ylabel="b", xlim=(0.5, 4), ylim=(0.5, 4),
       title="y = a b x: only the product is determined")
ax.legend()
