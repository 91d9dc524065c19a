"""What the plotting modules share: the lazy matplotlib import and small helpers.

matplotlib is an optional dependency (the ``plot`` extra). It is imported only when a
picture is made, so ``import trustfit`` (and ``import trustfit.plots``) never imports it. The
backend is never changed: a script's ``plt.show()``, a notebook's inline figures and
``MPLBACKEND`` work as the user set them up (matplotlib itself falls back to Agg where no
display is available).
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.result import FitResult

ModelFn = Callable[[np.ndarray, np.ndarray], np.ndarray]

#: Shading of the iterations by step kind (convergence plot) and their legend labels.
KIND_COLORS = {"LM": "#9ecae1", "QN": "#fdae6b", "GN": "#a1d99b", "dogleg": "#bcbddc"}
KIND_LABELS = {"LM": "LM steps", "QN": "quasi-Newton steps", "GN": "Gauss-Newton steps",
               "dogleg": "dogleg steps"}


def pyplot():
    """``matplotlib.pyplot``, imported on first use; the user's backend is left alone."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("trustfit's plots need matplotlib: pip install 'trustfit[plot]'") \
            from None
    return plt


def model_values(model_fn: ModelFn, p: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``model_fn(p, x)`` as a float array of ``x``'s length, quietly (overflow at a wild
    iterate becomes inf, which the plots clip, never a RuntimeWarning)."""
    with np.errstate(all="ignore"):
        out = np.asarray(model_fn(np.asarray(p, dtype=float), x), dtype=float)
    return np.broadcast_to(out, np.shape(x)).astype(float)


def cost_of(model_fn: ModelFn, p: np.ndarray, x: np.ndarray, y: np.ndarray,
            sigma: np.ndarray | None) -> float:
    """``1/2 sum(((f(x; p) - y) / sigma)^2)``, the solver's cost."""
    r = model_values(model_fn, p, x) - y
    if sigma is not None:
        r = r / sigma
    with np.errstate(all="ignore"):
        return float(0.5 * np.sum(r * r))


def restart_starts(history) -> list:
    """The first record of each rescue restart (:mod:`trustfit.strategies.rescue` marks every
    record with its run, ``restart``): the run continues from a new starting point, not from
    the previous iterate."""
    runs = [0] + [rec.restart for rec in history]
    return [rec for rec, before in zip(history, runs) if rec.restart != before]


def iterates(result: FitResult) -> list[tuple[int, np.ndarray, str]]:
    """The start, every accepted iterate, and the first iterate of each rescue restart
    (accepted or not: the iterate moved to the restart's start either way):
    ``(iteration, x, label)`` with the step kind as label, ``""`` at the start.

    Rejected steps leave the iterate unchanged and are not listed. When the result has no
    ``x0`` (a result built by hand), the list starts at the first accepted iterate.
    """
    out: list[tuple[int, np.ndarray, str]] = []
    if result.x0 is not None:
        out.append((0, np.asarray(result.x0, dtype=float), ""))
    starts = {id(rec) for rec in restart_starts(result.history)}
    for rec in result.history:
        restart = id(rec) in starts
        if rec.accepted or restart:
            label = rec.step_kind if rec.accepted else f"{rec.step_kind} rejected"
            if restart:
                label += f", rescue restart {rec.restart}"
            out.append((rec.iteration, np.asarray(rec.x, dtype=float), label))
    if not out:
        out.append((result.nit, np.asarray(result.x, dtype=float), ""))
    return out


def as_1d(name: str, values, n: int | None = None) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {a.shape}")
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{name} must have {n} values (one per point of x), got {a.shape[0]}")
    return a


def sigma_array(sigma, n: int) -> np.ndarray | None:
    if sigma is None:
        return None
    s = np.asarray(sigma, dtype=float)
    if s.ndim == 0:
        s = np.full(n, float(s))
    s = as_1d("sigma", s, n)
    if not np.all(np.isfinite(s) & (s > 0)):
        raise ValueError("sigma must be positive and finite at every point")
    return s


def fmt(v: float) -> str:
    """A number for a title: 4 significant digits."""
    return f"{v:.4g}"


def outcome(result: FitResult) -> str:
    """``converged (step test) after 80 iterations`` or ``not converged (max_nfev) after ...``."""
    state = "converged" if result.success else "not converged"
    return f"{state} ({result.stop_reason.name.lower()}) after {result.nit} iterations"


def wrap_title(title: str, width: int = 75) -> str:
    """A title on as many lines as it needs to stay inside a 7-inch figure."""
    import textwrap

    return "\n".join(textwrap.fill(line, width) for line in title.splitlines())
