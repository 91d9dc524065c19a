"""Multi-start: run the fit from ``N`` deterministic starting points, return the best and the
distinct minima with how often each was found.

Starting points (``design='sobol'``, scrambled Sobol' points, or ``'lhs'``, Latin hypercube;
both from :mod:`scipy.stats.qmc`, seeded, so the same call gives the same starts). Start 0 is
always the caller's ``x0``; the others map the design's ``u`` in ``[0, 1)`` to

* ``lb + u (ub - lb)`` for a parameter with both bounds finite;
* otherwise log-scaled around ``x0``: ``x0_i + s_i sign(z) (100^|z| - 1) / 10`` with
  ``z = 2u - 1`` and ``s_i = |x0_i|`` (1 where ``x0_i = 0``), so offsets run from 0 to about
  ``10 s_i``, dense near ``x0``; then clipped into a one-sided bound.

Runs go to a thread pool (``workers``, default 2: numpy releases the GIL in the linear
algebra); results are collected in start order, so the outcome does not depend on timing.
Each run has the full budget; the rescue layer is applied only to the best run (the starts
already are the global strategy).

Minima: converged runs at a stationary point (see ``not_stationary`` in
:mod:`trustfit.analysis.diagnostics`) whose costs agree to ``COST_RTOL = 1e-6`` (relative) and parameters to
``X_RTOL = 1e-3`` (relative to ``max(|x|, 1e-12)``) are the same minimum. Two minima with the
same cost whose parameters agree under a permutation of the parameters (``x_b = x_a[perm]``
to ``X_RTOL``) are reported as *equivalent*: the textbook example's two minima are the same
fit with the two exponentials swapped (``x1 <-> x2, x3 <-> x4``).
"""
from __future__ import annotations

import dataclasses
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..analysis.diagnostics import STATIONARY, exact_fit, gauss_newton_fraction
from ..core.events import Event, MinimumFound, MultistartEvaluations, MultistartSummary
from ..core.result import FitResult
from .rescue import rescue as rescue_layer

COST_RTOL = 1e-6
X_RTOL = 1e-3
DESIGNS = ("sobol", "lhs")


@dataclass(frozen=True)
class StartDesign:
    """How the starts are laid out and run: the design (``'sobol'`` or ``'lhs'``), the thread
    pool's size, a ``progress(done, total)`` callback and the parameter names for the
    events."""

    design: str = "sobol"
    workers: int | None = 2
    progress: Callable[[int, int], None] | None = None
    param_names: tuple[str, ...] | None = None


@dataclass
class Minimum:
    """A distinct minimum: where, its cost, how many starts found it (``count``) and which
    (``starts``, indices into the design, 0 = ``x0``). ``equivalent_to`` is the index of an
    earlier minimum it equals under the parameter permutation ``permutation`` (``None`` if
    none)."""

    x: np.ndarray
    cost: float
    count: int
    starts: list[int] = field(default_factory=list)
    equivalent_to: int | None = None
    permutation: tuple[int, ...] | None = None


def design_points(x0: np.ndarray, lb: np.ndarray, ub: np.ndarray, n_starts: int,
                  design: str = "sobol", seed: int = 0) -> np.ndarray:
    """``(n_starts, n)`` starting points; row 0 is ``x0`` (see the module docstring)."""
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {DESIGNS}, got {design!r}.")
    n = x0.size
    k = n_starts - 1
    points = [x0.copy()]
    if k > 0:
        from scipy.stats import qmc  # here: scipy.stats alone adds 0.27 s to import trustfit

        if design == "sobol":
            u = qmc.Sobol(n, scramble=True, seed=seed).random_base2(max(1, math.ceil(
                math.log2(k))))[:k]
        else:
            u = qmc.LatinHypercube(n, seed=seed).random(k)
        boxed = np.isfinite(lb) & np.isfinite(ub)
        s = np.where(x0 != 0.0, np.abs(x0), 1.0)
        z = 2.0 * u - 1.0
        around = x0 + s * np.sign(z) * (100.0 ** np.abs(z) - 1.0) / 10.0
        width = np.where(boxed, ub - lb, 0.0)
        inside = np.where(boxed, lb, 0.0) + u * width
        x = np.where(boxed, inside, around)
        points.extend(np.clip(x, lb, ub))
    return np.array(points)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(np.abs(a - b) <= X_RTOL * np.maximum(np.maximum(np.abs(a), np.abs(b)),
                                                            1e-12)))


def _permutation(a: np.ndarray, b: np.ndarray) -> tuple[int, ...] | None:
    """A non-identity permutation ``p`` with ``b[p[i]] == a[i]`` (to X_RTOL), if any."""
    n = a.size
    used, perm = set(), []
    for i in range(n):
        match = next((j for j in ([i] + list(range(n))) if j not in used
                      and _same(np.array([a[i]]), np.array([b[j]]))), None)
        if match is None:
            return None
        used.add(match)
        perm.append(match)
    return None if perm == list(range(n)) else tuple(perm)


def is_minimum(r: FitResult) -> bool:
    """Converged, and stationary (the diagnosis' ``not_stationary`` test does not fire)."""
    with np.errstate(all="ignore"):
        return bool(r.success and (exact_fit(r) or gauss_newton_fraction(r) <= STATIONARY))


def cluster(results: list[FitResult]) -> list[Minimum]:
    """Distinct minima among the converged, stationary results, best first (see the module
    docstring)."""
    order = sorted((k for k, r in enumerate(results) if is_minimum(r)),
                   key=lambda k: results[k].cost)
    minima: list[Minimum] = []
    for k in order:
        r = results[k]
        for mnm in minima:
            if (abs(r.cost - mnm.cost) <= COST_RTOL * max(abs(mnm.cost), 1e-300)
                    and _same(r.x, mnm.x)):
                mnm.count += 1
                mnm.starts.append(k)
                break
        else:
            minima.append(Minimum(r.x.copy(), r.cost, 1, [k]))
    for mnm in minima:
        mnm.starts.sort()
    for b, mb in enumerate(minima):
        for a, ma in enumerate(minima[:b]):
            if abs(mb.cost - ma.cost) <= COST_RTOL * max(abs(ma.cost), 1e-300):
                perm = _permutation(ma.x, mb.x)
                if perm is not None:
                    mb.equivalent_to, mb.permutation = a, perm
                    break
    return minima


def _swaps(perm: tuple[int, ...], names: list[str]) -> tuple[tuple[str, str], ...]:
    """The pairs of parameter names that ``perm`` exchanges."""
    done: set[int] = set()
    parts = []
    for i, j in enumerate(perm):
        if i != j and i not in done:
            parts.append((names[i], names[j]))
            done.update((i, j))
    return tuple(parts)


def _counted(run_once: Callable[..., FitResult], total: int,
             progress: Callable[[int, int], None]) -> Callable[..., FitResult]:
    """``run_once`` that reports ``progress(done, total)`` after each run."""
    lock = threading.Lock()
    done = [0]

    def run(p, *budgets):
        r = run_once(p, *budgets)
        with lock:
            done[0] += 1
            progress(done[0], total)
        return r

    return run


def multistart_runs(run_once: Callable[..., FitResult], x0: np.ndarray, lb: np.ndarray,
                    ub: np.ndarray, n_starts: int, plan: StartDesign = StartDesign(),
                    seed: int = 0, rescue: bool = True, max_nfev: int | None = None,
                    max_iter: int | None = None) -> FitResult:
    """Run ``run_once(start)`` from each design point; the best result with ``minima`` set
    and a summary in ``events``. ``progress(done, total)`` is called after each design run
    (from the worker threads, one call at a time), e.g. to draw a progress bar; the rescue
    of the best run calls ``run_once(start, nfev_left, iter_left)`` directly, within the
    budgets ``max_nfev`` and ``max_iter`` of that run."""
    design, workers, progress, param_names = (plan.design, plan.workers, plan.progress,
                                              plan.param_names)
    points = design_points(x0, lb, ub, n_starts, design, seed)
    run_design = run_once if progress is None else _counted(run_once, len(points), progress)
    if workers is None or workers <= 1:
        results = [run_design(p) for p in points]
    else:
        from concurrent.futures import ThreadPoolExecutor  # here: only parallel starts need it

        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(run_design, points))
    finite = [k for k, r in enumerate(results) if math.isfinite(r.cost)]
    best_k = min(finite, key=lambda k: results[k].cost) if finite else 0
    minima = cluster(results)
    best = results[best_k]
    if rescue:
        best = rescue_layer(run_once, best, seed=seed, max_nfev=max_nfev, max_iter=max_iter)
    names = list(param_names) if param_names else [f"x[{j}]" for j in range(x0.size)]
    failed = sum(not is_minimum(r) for r in results)
    events: list[Event] = [MultistartSummary(n_starts, design, seed, len(minima), failed,
                                             best.cost, best_k)]
    for i, mnm in enumerate(minima):
        swaps = (() if mnm.permutation is None else _swaps(mnm.permutation, names))
        events.append(MinimumFound(i, mnm.cost, mnm.count, n_starts, mnm.equivalent_to, swaps))
    events.append(MultistartEvaluations(sum(r.nfev for r in results)))
    return dataclasses.replace(best, x0=x0.copy(), minima=tuple(minima),
                               events=(*best.events, *events))
