"""Building and running a method: a step strategy (:mod:`trustfit.steps`) plus a
globalization (:mod:`trustfit.globalize`) run by the core loop, with the Gauss-Newton polish
(:mod:`trustfit.solve.polish`) as a phase after it, and ``'auto'``, which runs two methods.
The face (:func:`trustfit.least_squares`) validates the arguments and asks
:func:`make_run_once` for the function that fits from one start; the strategies over solving
(rescue, multi-start) call that function again from points they choose.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core import validate as check
from ..core.events import BudgetReached, MethodSwitch, StartRejected
from ..core.loop import LoopOptions, run
from ..core.loss import Loss, RobustProblem
from ..core.parallel_differences import use_workers
from ..core.problem import NonFiniteStart, Problem, ProblemLike
from ..core.result import FitResult, StopReason
from ..core.sparse_linalg import is_large
from ..globalize import ArmijoBacktracking, TrustRegionTest
from ..steps import Dogleg, GaussNewton, Hybrid, LevenbergMarquardt
from ..steps.damped import DAMPING_RULES
from ..steps.trust_region_step import MoreTrustRegion
from .large import IterativeSetup
from .polish import polish_phase

__all__ = ["ALIASES", "DAMPING_RULES", "DEFAULT_METHOD", "METHODS", "ROUNDING_LEVEL", "SOLVERS",
           "auto", "build", "make_run_once", "solve"]

#: The solvers, each one step strategy plus one globalization.
SOLVERS = ("gn", "lm", "hybrid", "dogleg", "tr")
METHODS = ("auto",) + SOLVERS
#: The default method: chosen by measurement on the NIST StRD problems (bench/nist.py):
#: Moré's trust-region Levenberg-Marquardt in Moré-scaled variables, and Nielsen-damped
#: Levenberg-Marquardt continuing from its best point when its stop is not certified
#: (:func:`auto`).
DEFAULT_METHOD = "auto"
#: Relative predicted reduction below which a disagreeing trial step is rounding noise
#: (:func:`trustfit.core.stopping.rounding_test`).
ROUNDING_LEVEL = 1e-10
#: The first solver of ``'auto'`` (:func:`auto`).
FIRST_STAGE = "tr"
#: SciPy's names mapped to trustfit's own bounded solvers. 'dogbox' is a dogleg with a box;
#: 'trf' (SciPy's default) maps to trustfit's default.
ALIASES = {"trf": DEFAULT_METHOD, "dogbox": "dogleg"}


def build(method: str, tau: float, damping: str, xtol: float | None, accel: bool = False):
    """A method is a step strategy plus a globalization."""
    if method == "gn":
        return GaussNewton(), ArmijoBacktracking()
    if method == "lm":
        return LevenbergMarquardt(tau, damping, accel), TrustRegionTest()
    if method == "hybrid":
        return Hybrid(tau, damping, xtol), TrustRegionTest()
    if method == "tr":
        return MoreTrustRegion(), TrustRegionTest()
    return Dogleg(), TrustRegionTest()


def auto(run_method, start: np.ndarray, opts: LoopOptions, default_scale: bool) -> FitResult:
    """The default method: two solvers whose failures do not overlap on NIST StRD, the second
    continuing where the first stopped.

    First Moré's trust-region Levenberg-Marquardt (:mod:`trustfit.steps.trust_region_step`,
    ``'tr'``) with Moré's Jacobian scaling (``x_scale='jac'`` unless the user gave one): the
    cheapest certified solver measured there (54 of 54 cases at LRE >= 7 with analytic
    Jacobians, 1710 residual evaluations; Powell's dogleg, the first stage before it, 50 of 54
    with 3464, and it ran away on nearly undetermined directions). Where its stop is not
    certified (with finite differences: MGH17's far start, Lanczos2's and Thurber's near
    ones), Levenberg-Marquardt with Nielsen's damping (``x_scale=1``) continues from the
    first run's best point with the evaluations left (a fresh damping there: the first
    run's radius is a length in Jacobian-scaled variables, which LM's unscaled damping does
    not share). Only where that continuation ends DEGENERATE too does LM start again from
    ``x0``: the parameters are not determined there, and the first run may have ended in
    another basin (the article's bi-exponential
    from ``[-1, 1, -10, 10]`` and ``[-4, 1, 2, -3]``: its first stage ends where one
    exponential has vanished or the two run off to infinity, and only a run from ``x0``
    reaches the minimum). A STALLED continuation (a point not stationary to the accuracy of
    the Jacobian: Lanczos2 and Thurber from start 2 with forward differences) is not started
    again: a run from ``x0`` ends at the same point (measured: 3 runs, then the rescue).
    The best answer is kept: certified first, then lower cost. The
    first run gets half of ``max_nfev``, the others the rest; every run is counted, and each
    switch is recorded (:class:`~trustfit.core.events.MethodSwitch`, with the point the run
    started from).
    """
    first_opts = dataclasses.replace(opts, x_scale="jac") if default_scale else opts
    if opts.max_nfev is not None:  # half the budget each, so that the fallback has room
        first_opts = dataclasses.replace(first_opts, max_nfev=max(1, opts.max_nfev // 2))
    first = run_method(FIRST_STAGE, start, first_opts)
    if first.success or first.stop_reason is StopReason.CALLBACK:
        return first
    budget = None if opts.max_nfev is None else opts.max_nfev - first.nfev
    if budget is not None and budget < 1:
        return dataclasses.replace(first, stop_value=float(opts.max_nfev)) if (
            first.stop_reason is StopReason.MAX_NFEV and opts.max_nfev is not None) else first
    second_opts = dataclasses.replace(opts, max_nfev=budget,
                                      x_scale=np.ones(start.size) if default_scale
                                      else opts.x_scale)
    # the first run's best point (the loop only ever moves to a lower cost)
    resume = first.x if np.isfinite(first.cost) else start
    runs, switches = [first], []
    for origin, point in (("best point", resume), ("x0", start)):
        if origin == "x0" and (runs[-1].success or np.array_equal(resume, start)
                               or runs[-1].stop_reason is not StopReason.DEGENERATE):
            break
        left = None if budget is None else budget - sum(r.nfev for r in runs[1:])
        if left is not None and left < 1:
            break
        run = run_method("lm", point, dataclasses.replace(second_opts, max_nfev=left))
        switches.append(MethodSwitch(first.method, first.stop_reason, first.cost, run.method,
                                     run.stop_reason, run.cost, "", tuple(float(v) for v in point),
                                     origin))
        runs.append(run)
    better = max(runs, key=lambda r: (r.success, -r.cost))  # the first of equals: earliest
    kept = better.method if better is not first else first.method
    events = tuple(dataclasses.replace(e, kept=kept) for e in switches)
    # A budget stop names the user's budget, which the runs shared, not the run's own share.
    stop_value = (float(opts.max_nfev) if better.stop_reason is StopReason.MAX_NFEV
                  and opts.max_nfev is not None else better.stop_value)
    return dataclasses.replace(
        better, nfev=sum(r.nfev for r in runs), njev=sum(r.njev for r in runs),
        nfev_fd=sum(r.nfev_fd for r in runs), x0=start.copy(), stop_value=stop_value,
        events=(*events, *better.events))


def _dense_polish(state) -> None:
    """The polish (:func:`polish_phase`) where the Jacobian is dense: its Gauss-Newton steps
    take a dense SVD, which a sparse or operator Jacobian never gets."""
    if not is_large(state.it.J):
        polish_phase(state)


def _budget_stop(result: FitResult, problem: ProblemLike) -> dict[str, Any]:
    """The run tried to evaluate past ``max_nfev`` and the problem refused (see
    :class:`~trustfit.core.problem.Problem`): the refused trial was never a real point, so no
    decision taken on it stands. The run stops with ``MAX_NFEV`` at its last evaluated
    point, as it would have had the budget been checked before that trial. Returns the
    fields of the result that change."""
    history, events = result.history, result.events
    # only called when the problem refused an evaluation, which needs a max_nfev budget
    assert problem.max_nfev is not None
    if history and history[-1].nfev >= problem.max_nfev:
        history = history[:-1] + (dataclasses.replace(
            history[-1], note="max_nfev reached: the trial point was not evaluated"),)
    if result.stop_reason is not StopReason.MAX_NFEV:
        events = events + (BudgetReached(problem.max_nfev, result.nit, problem.refused,
                                         result.stop_reason),)
    return dict(history=history, events=events, stop_reason=StopReason.MAX_NFEV,
                stop_value=float(problem.max_nfev))


def _rejected_start(start: np.ndarray, exc: NonFiniteStart, method: str, lb: np.ndarray,
                    ub: np.ndarray) -> FitResult:
    """A start trustfit chose itself (a rescue or multi-start start) where the residuals or
    the Jacobian are not finite: not the caller's error, so not raised. The start is rejected:
    a result with infinite cost that no comparison keeps and that is never a success."""
    m, n = exc.f0.size, start.size
    return FitResult(
        x=start.copy(), cost=np.inf, fun=exc.f0.copy(), jac=np.full((m, n), np.nan),
        grad=np.full(n, np.nan), optimality=np.inf, active_mask=np.zeros(n, dtype=int),
        nfev=1, njev=0, nit=0, method=method, stop_reason=StopReason.NO_PROGRESS,
        stop_value=np.nan, nfev_fd=exc.nfev_fd, x0=start.copy(),
        bounds=(lb.copy(), ub.copy()),
        events=(StartRejected(tuple(float(v) for v in start), str(exc)),))


def make_run_once(fun: Callable[..., Any], x0: np.ndarray, jac: Callable[..., Any] | str,
                  lb: np.ndarray, ub: np.ndarray, args: tuple, kwargs: dict | None,
                  step: Any, method: str, options: LoopOptions, *, tau: float, damping: str,
                  xtol: float | None, accel: bool, default_scale: bool,
                  loss: Loss | None = None, workers: Callable | None = None,
                  large: IterativeSetup | None = None) -> Callable[..., FitResult]:
    """``run_once(start, nfev_left=None, iter_left=None)``: one fit with ``method`` from
    ``start`` (validated arguments; ``default_scale``: the user gave no ``x_scale``;
    ``loss``: a robust loss, solved in its square-root form, :mod:`trustfit.core.loss`;
    ``workers``: a map for finite-difference evaluations, :mod:`trustfit.core.parallel_differences`;
    ``large``: the sparse path's problem and strategies, :mod:`trustfit.solve.large`)."""
    n = x0.size

    def run_method(name: str, start: np.ndarray, opts: LoopOptions) -> FitResult:
        """One run of the driver loop with one method, fresh counters and strategy."""
        problem: Problem | RobustProblem = (Problem if large is None else large.problem)(
            fun, n, jac, lb, ub, args, kwargs, step, max_nfev=opts.max_nfev)
        if workers is not None:
            use_workers(problem, workers)
        if loss is not None:
            problem = RobustProblem(problem, loss)
        strategy, globalization = build(name, tau, damping, xtol, accel)
        if large is not None:
            strategy, globalization = large.build(name, strategy, globalization)
        result = run(problem, start, strategy, globalization, name, opts,
                     phases=(_dense_polish,) if opts.polish else ())
        changes = _budget_stop(result, problem) if problem.refused else {}
        # After a converged stop the polish phase runs, and with forward differences the final
        # Jacobian is then a 5-point one (trustfit.solve.polish); the covariance's rank cut-off
        # follows the accuracy of the Jacobian it is given.
        stop = changes.get("stop_reason", result.stop_reason)
        polished = opts.polish and problem.refinable and (
            stop.converged or stop in (StopReason.STALLED, StopReason.DEGENERATE))
        return dataclasses.replace(result, **changes, jac_method=(
            "5-point" if polished else jac if isinstance(jac, str) else "callable"))

    def run_once(start: np.ndarray, nfev_left: int | None = None,
                 iter_left: int | None = None) -> FitResult:
        """One fit from ``start``; the budgets given replace max_nfev / max_iter (the rescue
        layer's share of them)."""
        opts = options
        if nfev_left is not None:
            opts = dataclasses.replace(opts, max_nfev=nfev_left)
        if iter_left is not None:
            opts = dataclasses.replace(opts, max_iter=iter_left)
        try:
            if method != "auto":
                return run_method(method, start, opts)
            return auto(run_method, start, opts, default_scale)
        except NonFiniteStart as exc:
            if np.array_equal(start, x0):
                raise  # the caller's x0: the caller's error
            return _rejected_start(start, exc, method, lb, ub)

    return run_once


def solve(fun: Callable[[np.ndarray], np.ndarray], x0: Any, bounds: Any) -> FitResult:
    """One fit of ``fun`` from ``x0`` within ``bounds`` with every default of
    :func:`trustfit.least_squares` and no rescue (``least_squares(fun, x0, bounds=bounds,
    rescue=False)``, which ``tests/test_parts.py`` checks): for strategies that re-fit
    sub-problems, such as the profile-likelihood intervals."""
    x0 = check.starting_point(x0)
    lb, ub = check.box(bounds, x0)
    n = x0.size
    options = LoopOptions(ftol=1e-15, xtol=1e-15, gtol=1e-15, max_nfev=100 * n * (n + 1),
                          max_iter=None, x_scale=check.x_scale(1.0, n), rounding=ROUNDING_LEVEL,
                          polish=True)
    run_once = make_run_once(fun, x0, "2-point", lb, ub, (), None, check.diff_step(None, n),
                             DEFAULT_METHOD, options, tau=1e-3, damping="nielsen", xtol=1e-15,
                             accel=False, default_scale=True)
    return run_once(x0)
