"""
The textbook example: two exponentials from three starts
=========================================================

Madsen, Nielsen & Tingleff, *Methods for Non-Linear Least Squares Problems* (DTU, 2004),
fit the sum of two exponentials

.. math::

   M(x, t) = x_3 e^{x_1 t} + x_4 e^{x_2 t}

to eleven points, :math:`t = 0, 2, \\dots, 20`. The problem is small and smooth, and yet
it separates the methods: it has a symmetric valley (:math:`x_1 = x_2`, :math:`x_3 = x_4`,
where the two terms are the same function), a large residual, and parameters whose sizes
differ by two orders of magnitude. This tutorial runs it from the three classic starts
with every method trustfit has, with the article's settings (``examples.ARTICLE_SETTINGS``:
``gtol = xtol = 1e-5``, no cost test, no polish, no rescue), and then with trustfit's
defaults.
"""

# %%
# The data and the model
# ----------------------
# ``trustfit.examples`` holds the data, the residuals ``M(x, t) - y``, their Jacobian and
# the three starts.

import matplotlib.pyplot as plt
import numpy as np

import trustfit
from trustfit import examples as ex
from trustfit import plots

print("t =", ex.T)
print("y =", ex.Y)
print("starts:", [s.tolist() for s in ex.STARTS])
print("global minimum: cost", ex.MINIMUM_COST, "at x =", ex.MINIMUM_X.tolist())

# %%
# Four methods from three starts
# ------------------------------
# Gauss-Newton (``'gn'``, with an Armijo line search), Levenberg-Marquardt (``'lm'``)
# with Nielsen's damping rule (the default) and with Marquardt's, and K. Madsen's hybrid
# (``'hybrid'``), which switches from Levenberg-Marquardt to a BFGS quasi-Newton step
# when the iterates converge only linearly, the mark of a large residual.

runs = {}
for k, x0 in enumerate(ex.STARTS, start=1):
    for label, options in [("gn", dict(method="gn")),
                           ("lm nielsen", dict(method="lm", damping="nielsen")),
                           ("lm marquardt", dict(method="lm", damping="marquardt")),
                           ("hybrid", dict(method="hybrid"))]:
        settings = dict(ex.ARTICLE_SETTINGS, **options)
        runs[k, label] = trustfit.least_squares(ex.residuals, x0, jac=ex.jacobian, **settings)

print(f"{'start':6s} {'method':13s} {'cost':>10s} {'iterations':>10s}  stop reason")
for (k, label), r in runs.items():
    print(f"{k:<6d} {label:13s} {r.cost:10.6g} {r.nit:10d}  {r.stop_reason.name}")

# %%
# Gauss-Newton fails from every start: from start 1 it stops at a point where the
# parameters are not determined (``DEGENERATE``), from start 2 it spends its whole
# evaluation budget in the line search (``MAX_NFEV``), from start 3 it never leaves the
# symmetric valley. The damped methods reach the global minimum (cost 0.0255953) from
# starts 1 and 2, Marquardt's rule in fewer iterations here. From ``[0, 0, 0, 0]`` every
# method stalls in the symmetric valley and trustfit refuses to call that a success:
# ``DEGENERATE``, with the reason in words.
#
# Why Gauss-Newton fails
# ----------------------
# The Gauss-Newton step solves :math:`J h \approx -r` and ignores the second-order term
# :math:`\sum_i r_i \nabla^2 r_i` of the Hessian. Where the residuals stay large, that
# term matters, and far from the minimum the linear model is poor. The fits from
# start 1 show where each method ends:

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
grid = np.linspace(0, 20, 200)
ax.plot(ex.T, ex.Y, "ko", label="data")
for label, style in [("gn", "--"), ("lm nielsen", "-"), ("hybrid", ":")]:
    r = runs[1, label]
    ax.plot(grid, ex.model(r.x, grid), style,
            label=f"{label}: cost {r.cost:.4g}, {r.stop_reason.name}")
ax.set(xlabel="t", ylabel="y", title="From start 1 = [-1, 1, -10, 10]")
ax.legend()

# %%
# Levenberg-Marquardt: Nielsen's and Marquardt's damping
# -------------------------------------------------------
# Both rules start with :math:`\mu_0 = \tau \max_j (J^T J)_{jj}`, :math:`\tau = 10^{-3}`,
# and accept a step when the gain ratio :math:`\varrho` (actual over predicted reduction)
# is positive. Marquardt's rule multiplies :math:`\mu` by 1/3 or 2 by thresholds on
# :math:`\varrho`; Nielsen's varies it smoothly,
# :math:`\mu \leftarrow \mu \max(1/3, 1 - (2\varrho - 1)^3)`, and doubles a growing
# factor after rejections. The cost and the damping per iteration from start 2:

fig, (ax_cost, ax_mu) = plt.subplots(2, 1, figsize=(7, 5), sharex=True, layout="constrained")
for label in ("lm nielsen", "lm marquardt"):
    hist = runs[2, label].history
    it = [h.iteration for h in hist]
    ax_cost.semilogy(it, [h.cost - ex.MINIMUM_COST + 1e-12 for h in hist], label=label)
    ax_mu.semilogy(it, [h.mu for h in hist], label=label)
ax_cost.set(ylabel="cost - minimum", title="Levenberg-Marquardt from start 2")
ax_mu.set(xlabel="iteration", ylabel="damping mu")
ax_cost.legend()

# %%
# Madsen's hybrid and its quasi-Newton switches
# ---------------------------------------------
# Levenberg-Marquardt converges only linearly when the residual at the solution is
# large: :math:`J^T J` misses the second-order term of the Hessian. The hybrid (Madsen
# 1988; Madsen, Nielsen & Tingleff sec. 3.4) keeps a BFGS matrix :math:`B` that learns the
# full Hessian from every trial step. After three successful LM steps in a row with
# :math:`\|g\|_\infty < 0.02\, F` (a gradient small compared with the cost: a large
# residual) it switches to the quasi-Newton step :math:`B h = -g` in a trust region, and
# back to LM when that step stops reducing the gradient. ``result.history`` records the
# kind of every step; :func:`trustfit.plots.plot_convergence` shades the phases.

hybrid = runs[2, "hybrid"]
kinds = [h.step_kind for h in hybrid.history]
switches = [h.iteration for h, prev in zip(hybrid.history[1:], hybrid.history)
            if h.step_kind != prev.step_kind]
print("steps by kind:", {kind: kinds.count(kind) for kind in sorted(set(kinds))})
print("switches at iterations:", switches)
fig = plots.plot_convergence(hybrid, title="Madsen's hybrid from start 2")

# %%
# The iteration log
# -----------------
# Every iteration is an :class:`trustfit.IterationRecord`: the iterate after it, the cost,
# the gradient's infinity norm, the step length, the damping or radius in force, the gain
# ratio, the kind of step and whether it was accepted. Around the first switch:

first = max(0, switches[0] - 4) if switches else 0
print(f"{'it':>4s} {'kind':>4s} {'ok':>3s} {'cost':>12s} {'|g|inf':>10s} {'|h|':>10s} "
      f"{'mu':>10s} {'rho':>8s}")
for h in hybrid.history[first:first + 10]:
    print(f"{h.iteration:4d} {h.step_kind:>4s} {'y' if h.accepted else 'n':>3s} "
          f"{h.cost:12.7g} {h.grad_norm:10.3g} {h.step_norm:10.3g} {h.mu:10.3g} {h.rho:8.3g}")

# %%
# The animation
# -------------
# :func:`trustfit.plots.animate_fit` draws the model moving over the data, one frame per
# accepted iteration (here at most 40 frames), and writes a GIF.

frames = plots.animate_fit(hybrid, ex.model, ex.T, ex.Y, "textbook_hybrid_start2.gif",
                           max_frames=40, xlabel="t", ylabel="y", dpi=60)
print(frames, "frames")

# %%
# trustfit's defaults: certified, and rescued from the symmetric start
# --------------------------------------------------------------------
# With its defaults (``method='auto'``: Powell's dogleg with Moré's scaling, then
# Levenberg-Marquardt where the dogleg's stop is not certified; tolerances to rounding
# level; a polish; the rescue), trustfit reaches the global minimum from all three
# starts, without a Jacobian. From ``[0, 0, 0, 0]`` the first run stops ``DEGENERATE``,
# the diagnosis names the exchangeable parameters, and the rescue restarts from a seeded
# perturbation that breaks the symmetry. ``result.events`` says what it did.

for x0 in ex.STARTS:
    r = trustfit.least_squares(ex.residuals, x0)
    print(f"start {x0.tolist()}: cost {r.cost:.7g}, success {r.success}, "
          f"{r.stop_reason.name}, {r.nfev} evaluations")

r = trustfit.least_squares(ex.residuals, [0, 0, 0, 0])
for event in r.events:
    print("-", event)

# %%
# The report of the final fit, in words:

print(r.report())

# %%
# And the fit with its 95 % confidence band and residuals:

fig = plots.plot_fit(r, ex.model, ex.T, ex.Y, jac_fn=lambda x, t: ex.jacobian(x, t),
                     xlabel="t", ylabel="y", title="trustfit's default from [0, 0, 0, 0]")
