"""Pictures of a :class:`~.result.ModelResult` that need nothing passed again: the data (with
error bars where ``sigma`` or ``weights`` were given), the best fit on a fine grid with its
confidence band (:meth:`ModelResult.eval_uncertainty`, the delta method), and the residuals.

matplotlib (the ``plot`` extra) is imported only here, on a call; the backend is never
changed: a script's ``plt.show()`` and a notebook's inline figures work as the user set them
up. Each function draws on the given ``ax`` or on a new figure.
"""
from __future__ import annotations

import numpy as np

__all__ = ["plot", "plot_fit", "plot_residuals"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'trustfit[plot]'") from None
    return plt


def _axes(ax):
    if ax is not None:
        return ax
    fig, ax = _pyplot().subplots(figsize=(6.4, 4.2), layout="constrained")
    return ax


def _single_x(res, what: str) -> tuple[str, np.ndarray]:
    if len(res.model.independent_names) != 1:
        raise ValueError(f"{what} draws models of one independent variable; this one has "
                         f"{res.model.independent_names}")
    name = res.model.independent_names[0]
    return name, np.asarray(res.userkws[name], dtype=float)


def plot_fit(res, ax=None, band: float | None = 0.95, numpoints: int | None = None,
             show_init: bool = False, datafmt: str = "o", xlabel: str | None = None,
             ylabel: str = "data", title: str | None = None):
    """Data, best fit and its ``band`` confidence band (``None``: no band). Returns the Axes."""
    name, x = _single_x(res, "plot_fit")
    ax = _axes(ax)
    if res.sigma is None:
        ax.plot(x, res.data, datafmt, color="black", ms=4, label="data", zorder=3)
    else:
        ax.errorbar(x, res.data, yerr=res.sigma, fmt=datafmt, color="black", ms=4,
                    capsize=2, elinewidth=1, label="data ± σ", zorder=3)
    lo, hi = float(np.min(x)), float(np.max(x))
    n = numpoints or max(400, x.size)
    grid = np.linspace(lo, hi, n) if hi > lo else np.sort(x)
    fit = res.eval(x=grid) if len(res.userkws) == 1 else res.best_fit
    if band is not None and res.errorbars and res.nfree > 0:
        half = res.eval_uncertainty(sigma=band, x=grid)
        ax.fill_between(grid, fit - half, fit + half, color="C0", alpha=0.25, lw=0,
                        label=f"{100 * band:g}% confidence band")
    if show_init:
        ax.plot(grid, res.model.eval(res.init_params, grid), "--", color="gray",
                label="initial")
    ax.plot(grid, fit, "-", color="C0", lw=2, label="best fit", zorder=2)
    ax.set_xlabel(xlabel or name)
    ax.set_ylabel(ylabel)
    ax.set_title(title if title is not None else repr(res.model), fontsize="small")
    ax.legend(loc="best", fontsize="small", frameon=False)
    return ax


def plot_residuals(res, ax=None, datafmt: str = "o", xlabel: str | None = None):
    """Residuals ``data - best_fit`` (divided by ``sigma`` where given). Returns the Axes."""
    name, x = _single_x(res, "plot_residuals")
    ax = _axes(ax)
    r = res.data - res.best_fit
    if res.sigma is None:
        ax.plot(x, r, datafmt, color="black", ms=4)
        ax.set_ylabel("data − fit")
    else:
        ax.errorbar(x, r / res.sigma, yerr=1.0, fmt=datafmt, color="black", ms=4, capsize=2,
                    elinewidth=1)
        ax.set_ylabel("(data − fit)/σ")
    ax.axhline(0.0, color="C0", lw=1)
    ax.set_xlabel(xlabel or name)
    return ax


def plot(res, fig=None, **kws):
    """Residuals above the fit, lmfit's ``ModelResult.plot`` layout. Returns the Figure."""
    if fig is None:
        fig = _pyplot().figure(figsize=(6.4, 5.6), layout="constrained")
    ax_res, ax_fit = fig.subplots(2, 1, sharex=True, gridspec_kw=dict(height_ratios=[1, 3]))
    plot_residuals(res, ax=ax_res)
    ax_res.set_xlabel("")
    plot_fit(res, ax=ax_fit, **kws)
    return fig
