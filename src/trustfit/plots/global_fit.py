"""The plot grid of a global fit: one panel per data set (data with error bars where sigma
was given, the fitted curve on a fine grid), the shared parameters with their standard
errors in the title (:class:`trustfit.GlobalFitResult`).

matplotlib is imported on the call only and the backend is never changed
(:func:`._common.pyplot`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._common import pyplot

#: Panels drawn at most without ``datasets=`` (the first ones; an image has thousands).
MAX_PANELS = 16
#: Points of the fitted curve per panel.
CURVE_POINTS = 200


def _shared_title(result) -> str:
    parts = [f"{n} = {v:.5g} ± {s:.2g}" for n, v, s in
             zip(result.shared_names, result.shared_values, result.shared_stderr)]
    state = "certified" if result.success else f"not converged ({result.stop_reason.name})"
    return (", ".join(parts) or "no shared parameters") + f"   [{state}, χ²ᵣ = " \
        f"{result.redchi:.3g}]"


def plot_global(result, datasets: Sequence[Any] | None = None, cols: int | None = None,
                figsize: tuple[float, float] | None = None, sharey: bool = False):
    """Draw the grid; ``datasets``: the data-set names (keys) to draw (default the first
    :data:`MAX_PANELS`). Returns the matplotlib Figure."""
    names = list(result.names)
    if datasets is None:
        chosen = list(range(min(len(names), MAX_PANELS)))
    else:
        if isinstance(datasets, (str, bytes)) or not isinstance(datasets, Sequence):
            raise TypeError(f"datasets must be a sequence of data-set names, got "
                            f"{type(datasets).__name__}.")
        unknown = [d for d in datasets if d not in names]
        if unknown:
            raise ValueError(f"datasets names {unknown[:5]}, which are not data sets of this "
                             f"fit ({names[:5]}...).")
        chosen = [names.index(d) for d in datasets]
    if not chosen:
        raise ValueError("datasets is empty: nothing to draw.")
    n = len(chosen)
    cols = cols if cols is not None else min(n, 4)
    if not isinstance(cols, int) or cols < 1:
        raise ValueError(f"cols must be a positive whole number, got {cols!r}.")
    rows = math.ceil(n / cols)
    plt = pyplot()
    fig, axes = plt.subplots(rows, cols, squeeze=False, sharey=sharey, layout="constrained",
                             figsize=figsize or (3.2 * cols, 2.6 * rows))
    for ax, k in zip(axes.ravel(), chosen):
        x, y, sigma = result.data[k]
        if np.ndim(x) != 1:
            ax.text(0.5, 0.5, "several independent variables", ha="center",
                    transform=ax.transAxes)
            continue
        if sigma is None:
            ax.plot(x, y, "o", ms=3, color="black", zorder=3)
        else:
            ax.errorbar(x, y, yerr=sigma, fmt="o", ms=3, color="black", capsize=1.5,
                        elinewidth=0.8, zorder=3)
        grid = np.linspace(float(np.min(x)), float(np.max(x)), CURVE_POINTS)
        ax.plot(grid, result.evaluate(k, grid), color="C3", lw=1.5, zorder=4)
        ax.set_title(f"{names[k]}: χ²ᵣ = {result.redchi_sets[k]:.3g}", fontsize=9)
        ax.tick_params(labelsize=8)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    fig.suptitle(_shared_title(result), fontsize=10)
    return fig
