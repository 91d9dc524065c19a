"""
NIST StRD: certified answers from far starts
============================================

The NIST Statistical Reference Datasets for nonlinear regression come with certified
parameters to 11 digits and two starts per problem, a far one and a near one.
:mod:`trustfit.reference` ships them. Here trustfit's default call fits four of the
hardest from their far start (no Jacobian given: finite differences) and counts the
correct digits (LRE) of the worst parameter against the certified values.
"""

import matplotlib.pyplot as plt
import numpy as np

import trustfit
from trustfit import reference

print(f"{'problem':10s} {'difficulty':10s} {'success':>7s} {'LRE':>5s} {'nfev':>6s}  stop")
results = {}
for name in ("MGH09", "Thurber", "Eckerle4", "Rat43"):
    problem = reference.load(name)
    r = trustfit.least_squares(problem.residuals, problem.starts[0])
    results[name] = (problem, r)
    print(f"{name:10s} {problem.difficulty:10s} {str(r.success):>7s} "
          f"{reference.lre(r.x, problem.certified):5.1f} {r.nfev:6d}  {r.stop_reason.name}")

# %%
# The certified standard deviations, and trustfit's from the same fit
# (:func:`trustfit.analysis.uncertainty.covariance`):

from trustfit.analysis import uncertainty

problem, r = results["Thurber"]
stderr = uncertainty.standard_errors(r)
for b, se, ref in zip(r.x, stderr, problem.certified_sd):
    print(f"{b:16.10g}  stderr {se:12.6g}  certified {ref:12.6g}")

# %%
# Thurber's fit with its residuals:

fig, (ax, ax_res) = plt.subplots(2, 1, figsize=(7, 5), sharex=True, layout="constrained",
                                 gridspec_kw=dict(height_ratios=[3, 1]))
order = np.argsort(problem.x)
ax.plot(problem.x, problem.y, "k.", label="data")
ax.plot(problem.x[order], problem.model(r.x)[order], "C1-", label="trustfit (far start)")
ax.set(ylabel="y", title=f"NIST Thurber: {problem.model_text.splitlines()[0][:60]}")
ax.legend()
ax_res.plot(problem.x, r.fun, "C0.")
ax_res.axhline(0, color="0.5", lw=0.8)
ax_res.set(xlabel="x", ylabel="residual")
