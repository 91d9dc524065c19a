"""``trustfit.least_squares``: SciPy's signature, trustfit's solvers."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _validate as check
from ._loop import LoopOptions, run
from .differentiation import METHODS as FD_METHODS
from .globalize import ArmijoBacktracking, TrustRegionTest
from .problem import NonFiniteStart, Problem
from .result import FitResult, StopReason
from .steps import Dogleg, GaussNewton, Hybrid, LevenbergMarquardt
from .steps.damped import DAMPING_RULES

#: The solvers, each one step strategy plus one globalization.
SOLVERS = ("gn", "lm", "hybrid", "dogleg")
METHODS = ("auto",) + SOLVERS
#: The default method: chosen by measurement on the NIST StRD problems (bench/nist.py):
#: Powell's dogleg in Moré-scaled variables, and Levenberg-Marquardt from the same start when
#: the dogleg's stop is not certified (:func:`_auto`).
DEFAULT_METHOD = "auto"
#: Relative predicted reduction below which a disagreeing trial step is rounding noise
#: (:func:`trustfit.stopping.rounding_test`).
ROUNDING_LEVEL = 1e-10
#: SciPy's names mapped to trustfit's own bounded solvers. 'dogbox' is a dogleg with a box;
#: 'trf' (SciPy's default) maps to trustfit's default.
ALIASES = {"trf": DEFAULT_METHOD, "dogbox": "dogleg"}


def _build(method: str, tau: float, damping: str, xtol: float | None, accel: bool = False):
    """A method is a step strategy plus a globalization."""
    if method == "gn":
        return GaussNewton(), ArmijoBacktracking()
    if method == "lm":
        return LevenbergMarquardt(tau, damping, accel), TrustRegionTest()
    if method == "hybrid":
        return Hybrid(tau, damping, xtol), TrustRegionTest()
    return Dogleg(), TrustRegionTest()


def _auto(run_method, start: np.ndarray, opts: LoopOptions, default_scale: bool) -> FitResult:
    """The default method: two solvers whose failures do not overlap on NIST StRD.

    Powell's dogleg with Moré's Jacobian scaling (``x_scale='jac'`` unless the user gave one)
    is the cheapest certified solver there (50 of 54 cases, 3464 residual evaluations for all
    54), and it reaches MGH10 from its far start, where Levenberg-Marquardt creeps along the
    valley for thousands of iterations. Where its stop is not certified (MGH17 and MGH09 from
    their far starts), Levenberg-Marquardt with Nielsen's damping (``x_scale=1``) runs from the
    same start with the evaluations left, and the better answer is kept: certified first,
    then lower cost. Together: 54 of 54 at LRE >= 7. The dogleg gets half of ``max_nfev``
    (MGH10's far start uses 47 % of it), the fallback the rest; both runs are counted.
    """
    first_opts = dataclasses.replace(opts, x_scale="jac") if default_scale else opts
    if opts.max_nfev is not None:  # half the budget each, so that the fallback has room
        first_opts = dataclasses.replace(first_opts, max_nfev=max(1, opts.max_nfev // 2))
    first = run_method("dogleg", start, first_opts)
    if first.success or first.stop_reason is StopReason.CALLBACK:
        return first
    budget = None if opts.max_nfev is None else opts.max_nfev - first.nfev
    if budget is not None and budget < 1:
        return first
    second_opts = dataclasses.replace(opts, max_nfev=budget,
                                      x_scale=np.ones(start.size) if default_scale
                                      else opts.x_scale)
    second = run_method("lm", start, second_opts)
    better = second if (second.success, -second.cost) > (first.success, -first.cost) else first
    other = first if better is second else second
    better.nfev, better.njev = first.nfev + second.nfev, first.njev + second.njev
    better.nfev_fd = first.nfev_fd + second.nfev_fd
    better.events.insert(0, (
        f"auto: the dogleg stopped with {first.stop_reason.name} (cost {first.cost:.6g}); "
        f"Levenberg-Marquardt from the same start reached {second.stop_reason.name} (cost "
        f"{second.cost:.6g}); kept the {better.method} result ({other.method}'s "
        f"evaluations are included in nfev)."))
    return better


def _budget_stop(result: FitResult, problem: Problem) -> None:
    """The run tried to evaluate past ``max_nfev`` and the problem refused (see
    :class:`~trustfit.problem.Problem`): the refused trial was never a real point, so no
    decision taken on it stands. The run stops with ``MAX_NFEV`` at its last evaluated
    point, as it would have had the budget been checked before that trial."""
    if result.history and result.history[-1].nfev >= problem.max_nfev:
        last = result.history[-1]
        result.history[-1] = dataclasses.replace(
            last, note="max_nfev reached: the trial point was not evaluated")
    if result.stop_reason is not StopReason.MAX_NFEV:
        result.events.append(
            f"max_nfev={problem.max_nfev} reached in iteration {result.nit}: "
            f"{problem.refused} further evaluation{'s' if problem.refused > 1 else ''} "
            f"refused; the run stopped there ({result.stop_reason.name} on the unevaluated "
            "trial does not stand).")
    result.stop_reason, result.stop_value = StopReason.MAX_NFEV, float(problem.max_nfev)


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
        bounds=(lb.copy(), ub.copy()), events=[f"start rejected: {exc}"])


def _unsupported(name: str, value: Any, allowed: Any, why: str) -> None:
    if value is not allowed and value != allowed:
        raise ValueError(f"{name}={value!r} is not supported: {why}")


def least_squares(
    fun: Callable[..., Any],
    x0: Any,
    jac: Callable[..., Any] | str = "2-point",
    bounds: Any = (-np.inf, np.inf),
    method: str | None = None,
    ftol: float | None = 1e-15,
    xtol: float | None = 1e-15,
    gtol: float | None = 1e-15,
    x_scale: Any = None,
    loss: str = "linear",
    f_scale: float = 1.0,
    diff_step: Any = None,
    tr_solver: str | None = None,
    tr_options: dict | None = None,
    jac_sparsity: Any = None,
    max_nfev: int | None = None,
    verbose: int = 0,
    args: tuple = (),
    kwargs: dict | None = None,
    callback: Callable | None = None,
    workers: Any = None,
    *,
    max_iter: int | None = None,
    tau: float = 1e-3,
    damping: str = "nielsen",
    accel: bool = False,
    rounding_stop: bool = True,
    polish: bool = True,
    rescue: bool = True,
    starts: int | None = None,
    seed: int = 0,
    _multistart: dict | None = None,
) -> FitResult:
    """Solve ``min F(x) = 1/2 ||fun(x)||^2`` subject to ``lb <= x <= ub``.

    Arguments have SciPy's names and meanings (``scipy.optimize.least_squares``), so
    ``from trustfit import least_squares`` is a one-line switch.

    Parameters
    ----------
    fun : callable ``fun(x, *args, **kwargs) -> (m,)`` residuals.
    x0 : (n,) starting point, inside the bounds.
    jac : callable ``jac(x, *args, **kwargs) -> (m, n)``, or ``'2-point'``, ``'3-point'``,
        ``'cs'`` (complex step). Finite-difference steps are relative to ``|x|``.
    bounds : ``(lb, ub)`` scalars or arrays, or ``scipy.optimize.Bounds``.
    method : ``'lm'`` (Levenberg-Marquardt), ``'hybrid'`` (Madsen's LM / quasi-Newton),
        ``'dogleg'`` (Powell), ``'gn'`` (Gauss-Newton with Armijo line search), ``'auto'``
        (the default: dogleg in Moré-scaled variables, then LM where the dogleg's stop is not
        certified; see :func:`_auto`). SciPy's ``'trf'`` and ``'dogbox'`` map to ``'auto'``
        and to ``'dogleg'``.
    ftol, xtol, gtol : relative cost reduction; relative step per parameter (Dennis &
        Schnabel eq. 7.2.5); largest cosine between the residuals and a Jacobian column
        (MINPACK's gtol; scale-free, unlike ``||g||_inf``). ``None`` switches a test off. The defaults (1e-15, SciPy's are 1e-8) let the fit run
        to rounding level, where the rounding test (below) ends it: SciPy's defaults stop
        early in flat valleys and report the early point as a success (NIST MGH09, ENSO,
        BoxBOD, MGH17, Bennett5).
    x_scale : numbers or ``'jac'`` (Moré's adaptive scaling); ``None``: 1, except in the
        dogleg stage of ``'auto'``, which uses ``'jac'``.
    max_nfev : residual evaluations budget, a hard cap on ``nfev`` over everything the call
        does (line searches, the polish, the fallback of ``'auto'``, rescue restarts; with
        ``starts``, each start's run). As in SciPy (1.16 and later), evaluations spent on
        finite-difference Jacobians are not counted: they are ``nfev_fd``.
        ``None``: ``100 n (n + 1)``.
    verbose : 0 silent, 1 final message, 2 one line per iteration.
    callback : ``callback(intermediate_result)`` or ``callback(x)``; return True or raise
        ``StopIteration`` to stop.
    max_iter : iteration budget (rejected steps count); ``None``: no limit besides max_nfev.
    tau : initial damping ``mu0 = tau * max diag(J^T J)`` for ``'lm'`` and ``'hybrid'``.
    damping : ``'nielsen'`` (default) or ``'marquardt'``.
    accel : geodesic acceleration for ``'lm'`` (Transtrum & Sethna 2012).
    rounding_stop : stop, converged, when a trial step whose model promised less than
        1e-10 of the cost disagrees with the actual change: the cost is at rounding level.
    polish : after convergence, Gauss-Newton steps accepted while they shrink, with central
        differences when the Jacobian is by forward differences (:mod:`trustfit.polish`).
    rescue : when the run stalls where :func:`trustfit.diagnose` finds exchangeable
        parameters, a parameter the residuals do not depend on, or no convergence, restart a
        few times from deterministic perturbed points and keep the best
        (:mod:`trustfit.rescue`); what was done is in ``events`` and the history notes.
        ``False``: one run, as SciPy.
    starts : ``N`` runs from a seeded quasi-random design (:func:`trustfit.multistart`);
        the best is returned, the distinct minima are in ``result.minima``. ``None``: one start.
    seed : seed of the rescue perturbations and of the multi-start design.

    Returns
    -------
    :class:`trustfit.FitResult` with SciPy's fields plus ``nit``, ``method``, ``stop_reason``
    and ``history``. ``success`` is True only when a convergence test fired.
    """
    check.function("fun", fun)
    x0 = check.starting_point(x0)
    n = x0.size
    if method is None:
        method = DEFAULT_METHOD
    method = check.choice("method", method, METHODS + tuple(ALIASES))
    method = ALIASES.get(method, method)
    if not callable(jac):
        check.choice("jac", jac, FD_METHODS)
    lb, ub = check.box(bounds, x0)
    ftol = check.tolerance("ftol", ftol)
    xtol = check.tolerance("xtol", xtol)
    gtol = check.tolerance("gtol", gtol)
    max_nfev = check.positive_int_or_none("max_nfev", max_nfev)
    max_iter = check.positive_int_or_none("max_iter", max_iter)
    scale = check.x_scale(1.0 if x_scale is None else x_scale, n)
    step = check.diff_step(diff_step, n)
    tau = check.positive_float("tau", tau)
    damping = check.choice("damping", damping, DAMPING_RULES)
    if not isinstance(rescue, bool):
        raise TypeError(f"rescue must be True or False, got {rescue!r}.")
    starts = check.positive_int_or_none("starts", starts)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be a whole number, got {seed!r}.")
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1 or 2, got {verbose!r}.")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {callback!r}.")
    if not isinstance(args, tuple):
        raise TypeError(f"args must be a tuple, got {type(args).__name__}.")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError(f"kwargs must be a dict, got {type(kwargs).__name__}.")
    _unsupported("loss", loss, "linear", "trustfit fits plain least squares (loss='linear').")
    _unsupported("tr_solver", tr_solver, None, "trustfit always uses a dense SVD.")
    _unsupported("tr_options", tr_options, None, "trustfit always uses a dense SVD.")
    _unsupported("jac_sparsity", jac_sparsity, None, "trustfit works with dense Jacobians.")
    _unsupported("workers", workers, None, "finite differences run in this process.")
    del f_scale  # only meaningful with a robust loss

    if max_nfev is None:
        max_nfev = 100 * n * (n + 1)
    options = LoopOptions(ftol=ftol, xtol=xtol, gtol=gtol, max_nfev=max_nfev, max_iter=max_iter,
                          x_scale=scale, verbose=verbose, callback=callback,
                          rounding=ROUNDING_LEVEL if rounding_stop else 0.0,
                          polish=bool(polish))

    def run_method(name: str, start: np.ndarray, opts: LoopOptions) -> FitResult:
        """One run of the driver loop with one method, fresh counters and strategy."""
        problem = Problem(fun, n, jac, lb, ub, args, kwargs, step, max_nfev=opts.max_nfev)
        strategy, globalization = _build(name, tau, damping, xtol, accel)
        result = run(problem, start, strategy, globalization, name, opts)
        if problem.refused:
            _budget_stop(result, problem)
        # After a converged stop the loop polishes, and with forward differences the final
        # Jacobian is then a 5-point one (trustfit.polish); the covariance's rank cut-off
        # follows the accuracy of the Jacobian it is given.
        polished = opts.polish and problem.refinable and (
            result.stop_reason.converged
            or result.stop_reason in (StopReason.STALLED, StopReason.DEGENERATE))
        result.jac_method = ("5-point" if polished else
                             jac if isinstance(jac, str) else "callable")
        return result

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
            return _auto(run_method, start, opts, x_scale is None)
        except NonFiniteStart as exc:
            if np.array_equal(start, x0):
                raise  # the caller's x0: the caller's error
            return _rejected_start(start, exc, method, lb, ub)

    if starts is not None:
        from .multistart import multistart_runs

        return multistart_runs(run_once, x0, lb, ub, starts, seed=seed, rescue=rescue,
                               max_nfev=max_nfev, max_iter=max_iter, **(_multistart or {}))
    result = run_once(x0)
    if rescue:
        from .rescue import rescue as rescue_layer

        result = rescue_layer(run_once, result, seed=seed, max_nfev=max_nfev,
                              max_iter=max_iter)
    return result
