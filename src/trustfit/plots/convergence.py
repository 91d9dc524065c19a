"""Convergence plot: cost, gradient norm and damping / radius against iteration.

Three panels sharing the iteration axis, all on log scales: the cost ``F(x)``; the
infinity norm of the gradient ``||g||_inf``; the LM damping ``mu`` and the trust-region or
QN radius ``Delta`` in force when each step was proposed. The background is shaded by step
kind (LM, quasi-Newton, Gauss-Newton, dogleg), so a hybrid run shows its LM and QN phases;
rejected steps are marked with a red cross on the cost curve, and a dashed line marks where
the rescue layer restarted the run from a new point (the cost may jump up there).

Everything comes from ``result.history``; nothing is recomputed.
"""
from __future__ import annotations

import numpy as np

from ..core.result import FitResult
from ._common import KIND_COLORS, KIND_LABELS, fmt, outcome, pyplot, restart_starts, wrap_title

TINY = 1e-300  # a zero cost or gradient is drawn at the floor of the log axis, not dropped


def phases(kinds: list[str], iterations: list[int]) -> list[tuple[str, float, float]]:
    """Runs of equal step kind as ``(kind, start, end)`` spans on the iteration axis; each
    iteration ``k`` owns ``[k - 0.5, k + 0.5]``."""
    spans: list[tuple[str, float, float]] = []
    for kind, k in zip(kinds, iterations):
        if spans and spans[-1][0] == kind and spans[-1][2] == k - 0.5:
            spans[-1] = (kind, spans[-1][1], k + 0.5)
        else:
            spans.append((kind, k - 0.5, k + 0.5))
    return spans


def _positive(values) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    return np.where(np.isfinite(a), np.maximum(a, TINY), np.nan)


def _label_short_log_axis(ax, values: np.ndarray) -> None:
    """On a log axis spanning less than a decade matplotlib labels few or no ticks (the
    stall of the textbook's third start: cost 9.7 down to 7.2); label every 1..9 tick with
    plain numbers there."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    v = values[np.isfinite(values) & (values > TINY)]
    if v.size == 0 or v.max() / v.min() >= 10.0:
        return
    plain = FuncFormatter(lambda t, _: f"{t:.3g}")
    ax.yaxis.set_major_locator(LogLocator(subs=tuple(range(1, 10))))
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(NullFormatter())


def plot_convergence(result: FitResult, axes=None, title: str | None = None):
    """Cost, ``||g||_inf`` and ``mu`` / ``Delta`` per iteration, phases shaded. Returns the
    Figure. ``axes``: three Axes to draw into (``None``: a new figure)."""
    plt = pyplot()
    if axes is None:
        fig, axes = plt.subplots(3, 1, figsize=(7.0, 6.4), sharex=True, layout="constrained")
    else:
        fig = axes[0].figure
    ax_cost, ax_grad, ax_damp = axes
    hist = result.history
    it = np.array([h.iteration for h in hist], dtype=float)
    kinds = [h.step_kind for h in hist]
    cost = _positive([h.cost for h in hist])
    grad = _positive([h.grad_norm for h in hist])
    mu = _positive([h.mu for h in hist])
    radius = _positive([h.radius for h in hist])
    rejected = np.array([not h.accepted for h in hist], dtype=bool)

    present = []
    for kind, a, b in phases(kinds, [h.iteration for h in hist]):
        for ax in axes:
            ax.axvspan(a, b, color=KIND_COLORS.get(kind, "0.9"), alpha=0.45, lw=0, zorder=0)
        if kind not in present:
            present.append(kind)

    for n, rec in enumerate(restart_starts(hist)):
        for ax in axes:
            ax.axvline(rec.iteration - 0.5, color="0.3", ls="--", lw=1.2, zorder=1,
                       label="rescue restart" if ax is ax_cost and n == 0 else None)
    ax_cost.plot(it, cost, ".-", color="black", ms=3, lw=1.2, label="cost F(x)")
    if rejected.any():
        ax_cost.plot(it[rejected], cost[rejected], "x", color="C3", ms=5,
                     label=f"rejected step ({int(rejected.sum())})")
    ax_cost.set_ylabel("cost  F(x) = ½‖r‖²")
    ax_grad.plot(it, grad, ".-", color="C2", ms=3, lw=1.2)
    ax_grad.set_ylabel("gradient  ‖g‖∞")
    drew = False
    if np.isfinite(mu).any():
        ax_damp.plot(it, mu, ".-", color="C0", ms=3, lw=1.2, label="damping μ")
        drew = True
    if np.isfinite(radius).any():
        ax_damp.plot(it, radius, ".-", color="C1", ms=3, lw=1.2, label="radius Δ")
        drew = True
    ax_damp.set_ylabel("μ  or  Δ")
    if not drew:
        ax_damp.text(0.5, 0.5, f"method {result.method!r} has no damping or radius",
                     transform=ax_damp.transAxes, ha="center", va="center", color="0.4")
    for ax in axes:
        if ax is not ax_damp or drew:
            ax.set_yscale("log")
        ax.grid(True, which="major", color="0.85", lw=0.6)
    for ax, values in ((ax_cost, cost), (ax_grad, grad)):
        _label_short_log_axis(ax, values)
    if drew:
        _label_short_log_axis(ax_damp, np.concatenate([mu, radius]))
    ax_damp.set_xlabel("iteration")
    if len(it):
        ax_damp.set_xlim(0.5, it[-1] + 0.5)

    # One legend for the shading (top panel, with the cost), one for mu / Delta.
    from matplotlib.patches import Patch
    handles, labels = ax_cost.get_legend_handles_labels()
    handles += [Patch(color=KIND_COLORS.get(k, "0.9"), alpha=0.6) for k in present]
    labels += [KIND_LABELS.get(k, k) for k in present]
    ax_cost.legend(handles, labels, loc="upper right", fontsize="small", ncols=2,
                   framealpha=0.85)
    if drew:
        ax_damp.legend(loc="best", fontsize="small", framealpha=0.85)
    if title is None:
        title = f"{result.method}: final cost {fmt(result.cost)}, {outcome(result)}"
    ax_cost.set_title(wrap_title(title), fontsize="medium")
    if not hist:
        ax_cost.text(0.5, 0.5, "no iterations (the start met a stopping test)",
                     transform=ax_cost.transAxes, ha="center", va="center", color="0.4")
    return fig
