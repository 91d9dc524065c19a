"""Fit plot: the data with error bars, the fitted curve, a confidence band, and the residuals.

The band is the delta method's: with ``C`` the parameter covariance
(:func:`trustfit.analysis.uncertainty.covariance`) and ``j(x) = d f(x; p) / d p`` at the solution,

``var f(x) = j(x)^T C j(x)``,   band ``f(x) +- q sqrt(var f(x))``,

where ``q`` is the Student-t quantile with ``m - rank`` degrees of freedom (the normal
quantile with ``absolute_sigma=True``, when the error scale is known rather than estimated).
It is the band of the *fitted curve* (where the true curve lies), not a prediction band for
new data points, and it is exact only as far as the model is linear in its parameters near
the solution. ``j`` comes from ``jac_fn(p, x)`` when given, else from central differences.
No band is drawn when the Jacobian is too ill-conditioned for the covariance to mean anything
(condition number above ``1/sqrt(eps)``); the plot says so instead.
"""
from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..analysis.uncertainty import covariance
from ..core.result import FitResult
from ..core.stopping import CONDITION_LIMIT
from ._common import ModelFn, as_1d, fmt, model_values, outcome, pyplot, sigma_array, wrap_title

EPS = np.finfo(float).eps
#: Above this condition number of the Jacobian at the solution (1/sqrt(eps)) the covariance
#: has directions whose variance is set by rounding, and ``j^T C j`` becomes the difference of
#: huge numbers: the band would be noise, so none is drawn and the plot says why. The solver's
#: own limit (:data:`trustfit.core.stopping.CONDITION_LIMIT`), stated once.
MAX_CONDITION = CONDITION_LIMIT


def model_jacobian(model_fn: ModelFn, p: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``d f(x; p) / d p`` by central differences, shape ``(len(x), len(p))``.

    Step ``eps^(1/3) max(|p_j|, 1)``: the balance of truncation and rounding error for
    central differences.
    """
    p = np.asarray(p, dtype=float)
    J = np.empty((np.size(x), p.size))
    for j in range(p.size):
        h = EPS ** (1 / 3) * max(abs(p[j]), 1.0)
        up, down = p.copy(), p.copy()
        up[j] += h
        down[j] -= h
        J[:, j] = (model_values(model_fn, up, x) - model_values(model_fn, down, x)) / (2 * h)
    return J


@dataclass(frozen=True)
class Band:
    """The fitted curve at ``x`` and its confidence band ``lower <= f <= upper``."""

    x: np.ndarray
    f: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    level: float
    quantile: float
    dof: int
    distribution: str  # "t" or "normal"


def confidence_band(result: FitResult, model_fn: ModelFn, x, level: float = 0.95,
                    jac_fn: Callable | None = None, absolute_sigma: bool = False) -> Band:
    """The delta-method confidence band of the fitted curve at the points ``x``.

    Raises ``ValueError`` when the band is not defined: no degrees of freedom left
    (``m <= rank``) with ``absolute_sigma=False``, or a level outside (0, 1).
    """
    from scipy import stats

    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1 (e.g. 0.95), got {level!r}")
    x = np.asarray(x, dtype=float)
    p = np.asarray(result.x, dtype=float)
    cov = covariance(result, absolute_sigma=absolute_sigma)
    m = np.shape(result.fun)[0]
    dof = m - cov.rank
    if absolute_sigma:
        q, dist = float(stats.norm.ppf(0.5 + level / 2)), "normal"
    elif dof > 0:
        q, dist = float(stats.t.ppf(0.5 + level / 2, dof)), "t"
    else:
        raise ValueError(f"no confidence band: {m} points and {cov.rank} determined "
                         f"parameters leave no degrees of freedom to estimate the error scale")
    sv = cov.singular_values
    cond = sv[0] / sv[cov.rank - 1] if cov.rank else np.inf
    if cond > MAX_CONDITION:
        raise ValueError(f"no confidence band: the Jacobian is nearly singular (condition "
                         f"number {cond:.2g}); the parameters are not determined")
    J = (np.asarray(jac_fn(p, x), dtype=float) if jac_fn is not None
         else model_jacobian(model_fn, p, x))
    var = np.einsum("ij,jk,ik->i", J, cov.matrix, J)
    half = q * np.sqrt(np.clip(var, 0.0, None))
    f = model_values(model_fn, p, x)
    return Band(x, f, f - half, f + half, level, q, dof, dist)


def plot_fit(result: FitResult, model_fn: ModelFn, x, y, sigma=None, ax=None,
             band: float | None = 0.95, jac_fn: Callable | None = None,
             absolute_sigma: bool = False, xlabel: str = "x", ylabel: str = "y",
             title: str | None = None, npoints: int = 400):
    """Data, fitted curve, confidence band and residual panel. Returns the Figure.

    ``model_fn(p, x)`` is the model (``Model.eval`` has this form); ``result.x`` are its
    parameters. ``sigma`` (a number or one per point) draws error bars and normalises the
    residuals. ``band`` is the confidence level of the band (``None``: no band). ``ax``: a
    pair ``(ax_fit, ax_residuals)`` to draw into, or a single Axes (then no residual panel);
    ``None`` makes a new figure.
    """
    plt = pyplot()
    x = as_1d("x", x)
    y = as_1d("y", y, x.size)
    s = sigma_array(sigma, x.size)
    p = np.asarray(result.x, dtype=float)

    if ax is None:
        fig, (ax_fit, ax_res) = plt.subplots(
            2, 1, figsize=(7.0, 5.6), sharex=True, layout="constrained",
            gridspec_kw=dict(height_ratios=[3, 1]))
    elif isinstance(ax, (tuple, list)):
        ax_fit, ax_res = ax
        fig = ax_fit.figure
    else:
        ax_fit, ax_res = ax, None
        fig = ax_fit.figure

    lo, hi = float(np.min(x)), float(np.max(x))
    grid = np.linspace(lo, hi, npoints) if hi > lo else np.sort(x)

    if s is None:
        ax_fit.plot(x, y, "o", color="black", ms=4.5, label="data", zorder=3)
    else:
        ax_fit.errorbar(x, y, yerr=s, fmt="o", color="black", ms=4.5, capsize=2.5,
                        elinewidth=1, label="data ± σ", zorder=3)
    band_note = ""
    if band is not None:
        try:
            b = confidence_band(result, model_fn, grid, band, jac_fn, absolute_sigma)
        except ValueError as exc:
            band_note = str(exc)
        else:
            dist = f"t, {b.dof} dof" if b.distribution == "t" else "normal"
            ax_fit.fill_between(grid, b.lower, b.upper, color="C0", alpha=0.25, lw=0,
                                label=f"{100 * band:g}% confidence band ({dist})")
    fitted = model_values(model_fn, p, grid)
    ax_fit.plot(grid, fitted, "-", color="C0", lw=2, label="fit", zorder=2)
    ax_fit.set_ylabel(ylabel)
    handles, labels = ax_fit.get_legend_handles_labels()
    if band_note:  # say why there is no band where the band would be listed
        from matplotlib.patches import Patch
        handles.append(Patch(color="none"))
        labels.append(textwrap.fill(band_note, 42))
    ax_fit.legend(handles, labels, loc="best", fontsize="small", frameon=False)
    if title is None:
        title = f"{result.method}: cost {fmt(result.cost)}, {outcome(result)}"
    ax_fit.set_title(wrap_title(title), fontsize="medium")

    if ax_res is not None:
        r = y - model_values(model_fn, p, x)
        if s is None:
            ax_res.plot(x, r, "o", color="black", ms=4)
            ax_res.set_ylabel("residual\ny − fit")
        else:
            ax_res.errorbar(x, r / s, yerr=1.0, fmt="o", color="black", ms=4, capsize=2,
                            elinewidth=1)
            ax_res.set_ylabel("residual\n(y − fit)/σ")
        ax_res.axhline(0.0, color="C0", lw=1)
        ax_res.set_xlabel(xlabel)
    else:
        ax_fit.set_xlabel(xlabel)
    return fig
