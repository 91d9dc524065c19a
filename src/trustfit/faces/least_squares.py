"""``trustfit.least_squares`` (SciPy's signature, trustfit's solvers) and
``trustfit.strategies.multistart``: validate the arguments at the boundary, build the method
(:mod:`trustfit.solve`), and run it once, with the rescue, or from a multi-start design
(:mod:`trustfit.strategies`)."""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from ..core import validate as check
from ..core.differentiation import METHODS as FD_METHODS
from ..core.loop import LoopOptions
from ..core.loss import make_loss
from ..core.result import FitResult
from ..solve.large import iterative_setup
from ..solve.methods import (ALIASES, DAMPING_RULES, DEFAULT_METHOD, METHODS, ROUNDING_LEVEL,
                             make_run_once)
from ..solve.methods import SOLVERS as SOLVERS  # re-exported: trustfit.SOLVERS, apps.demo
from ..strategies.multistart import StartDesign, multistart_runs
from ..strategies.rescue import rescue as rescue_layer
from . import _scipy_args as scipy_args


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
        ``'dogleg'`` (Powell), ``'tr'`` (Moré's trust-region LM, MINPACK's step),
        ``'gn'`` (Gauss-Newton with Armijo line search), ``'auto'`` (the default: ``'tr'``
        in Moré-scaled variables, then LM from its best point where its stop is not
        certified; see :func:`trustfit.solve.methods.auto`). SciPy's ``'trf'`` and
        ``'dogbox'`` map to ``'auto'`` and to ``'dogleg'``.
    ftol, xtol, gtol : relative cost reduction; relative step per parameter (Dennis &
        Schnabel eq. 7.2.5); largest cosine between the residuals and a Jacobian column
        (MINPACK's gtol; scale-free, unlike ``||g||_inf``). ``None`` switches a test off. The defaults (1e-15, SciPy's are 1e-8) let the fit run
        to rounding level, where the rounding test (below) ends it: SciPy's defaults stop
        early in flat valleys and report the early point as a success (NIST MGH09, ENSO,
        BoxBOD, MGH17, Bennett5).
    x_scale : numbers or ``'jac'`` (Moré's adaptive scaling, MINPACK's and SciPy's rule);
        ``None``: 1, except in the first stage of ``'auto'``, which uses ``'jac'``.
    loss, f_scale : SciPy's robust losses ``'linear'``, ``'soft_l1'``, ``'huber'``,
        ``'cauchy'``, ``'arctan'`` or a callable ``rho(z) -> (3, m)`` (rho, rho', rho''),
        with the soft margin ``C = f_scale``: the cost is ``1/2 sum C^2 rho(f^2 / C^2)``, in
        every method. Solved as the least-squares problem of the robust residuals
        ``C sign(f) sqrt(rho(f^2 / C^2))`` (:mod:`trustfit.core.loss`), which are the
        result's ``fun`` (so ``cost = 1/2 ||fun||^2``); ``cost`` and ``grad`` are SciPy's.
    jac_sparsity, tr_solver, tr_options : SciPy's meanings. With ``jac_sparsity`` (the
        pattern of nonzeros) finite differences perturb groups of columns that share no row
        (3 evaluations for a tridiagonal Jacobian) and give a sparse Jacobian; a ``jac`` that
        returns a ``scipy.sparse`` matrix or a ``LinearOperator`` is used as such. These, and
        ``tr_solver='lsmr'``, take steps by LSMR (``tr_options``: LSMR's ``atol, btol,
        conlim, maxiter``, and SciPy's ``regularize``, ``damp``), never forming an ``m x n``
        array; the certificate then uses iterative estimates and says so in ``events``
        (:mod:`trustfit.solve.large`). ``'exact'`` needs a dense Jacobian, as in SciPy.
    max_nfev : residual evaluations budget, a hard cap on ``nfev`` over everything the call
        does (line searches, the polish, the fallback of ``'auto'``, rescue restarts; with
        ``starts``, each start's run). As in SciPy (1.16 and later), evaluations spent on
        finite-difference Jacobians are not counted: they are ``nfev_fd``.
        ``None``: ``100 n (n + 1)``.
    verbose : 0 silent, 1 final message, 2 one line per iteration.
    args, kwargs : extra arguments of ``fun`` and ``jac`` (``args`` any sequence).
    callback : called as SciPy 1.16+ calls it, once per accepted step:
        ``callback(intermediate_result=OptimizeResult(x, fun, nit, nfev, cost, ...))`` when
        ``intermediate_result`` is its only parameter, else ``callback(x)``; raise
        ``StopIteration`` (or return True) to stop with status -2.
    workers : for the finite-difference evaluations: ``None`` or 1, here; an int ``N``, a
        pool of N processes (``-1``: every CPU; ``fun`` must be picklable); a map-like
        callable, called as ``workers(fun, points)``. The Jacobian is the same to the bit.
    max_iter : iteration budget (rejected steps count); ``None``: no limit besides max_nfev.
    tau : initial damping ``mu0 = tau * max diag(J^T J)`` for ``'lm'`` and ``'hybrid'``.
    damping : ``'nielsen'`` (default) or ``'marquardt'``.
    accel : geodesic acceleration for ``'lm'`` (Transtrum & Sethna 2012).
    rounding_stop : stop, converged, when a trial step whose model promised less than
        1e-10 of the cost disagrees with the actual change: the cost is at rounding level.
    polish : after convergence, Gauss-Newton steps accepted while they shrink, with central
        differences when the Jacobian is by forward differences (:mod:`trustfit.solve.polish`).
    rescue : when the run stalls where :func:`trustfit.diagnose` finds exchangeable
        parameters, a parameter the residuals do not depend on, or no convergence, restart a
        few times from deterministic perturbed points and keep the best
        (:mod:`trustfit.strategies.rescue`); what was done is in ``events`` and the history notes.
        ``False``: one run, as SciPy.
    starts : ``N`` runs from a seeded quasi-random design (:func:`trustfit.multistart`);
        the best is returned, the distinct minima are in ``result.minima``. ``None``: one start.
    seed : seed of the rescue perturbations and of the multi-start design.

    Returns
    -------
    :class:`trustfit.FitResult` with SciPy's fields plus ``nit``, ``method``, ``stop_reason``
    and ``history``. ``success`` is True only when a convergence test fired and the point
    is certified. Bad arguments raise SciPy's exception type with SciPy's message first.
    """
    # Every argument, by name (locals() holds exactly the parameters here), to the one
    # implementation that fit() and multistart() share.
    return _solve(StartDesign(), **locals())


def _solve(design: StartDesign, *, fun, x0, jac, bounds, method, ftol, xtol, gtol, x_scale,
           loss, f_scale, diff_step, tr_solver, tr_options, jac_sparsity, max_nfev, verbose,
           args, kwargs, callback, workers, max_iter, tau, damping, accel, rounding_stop,
           polish, rescue, starts, seed) -> FitResult:
    """:func:`least_squares` with the multi-start design ``design`` (used when ``starts``)."""
    check.function("fun", fun)
    x0 = check.starting_point(x0)
    n = x0.size
    if method is None:
        method = DEFAULT_METHOD
    method = scipy_args.scipy_wording(
        "`method` must be 'trf', 'dogbox' or 'lm'.", check.choice, "method", method,
        METHODS + tuple(ALIASES))
    method = ALIASES.get(method, method)
    if not callable(jac):
        scipy_args.scipy_wording("`jac` must be '2-point', '3-point', 'cs' or callable.",
                                 check.choice, "jac", jac, FD_METHODS)
    lb, ub = check.box(bounds, x0)
    ftol = check.tolerance("ftol", ftol)
    xtol = check.tolerance("xtol", xtol)
    gtol = check.tolerance("gtol", gtol)
    max_nfev = scipy_args.scipy_wording("`max_nfev` must be None or positive integer.",
                                        check.positive_int_or_none, "max_nfev", max_nfev)
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
    seed = int(seed)  # a NumPy integer seeds the same streams
    if verbose not in (0, 1, 2):
        raise ValueError(f"`verbose` must be in [0, 1, 2]. verbose must be 0, 1 or 2, "
                         f"got {verbose!r}.")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {callback!r}.")
    args = scipy_args.extra_arguments(args)
    if kwargs is not None and not isinstance(kwargs, dict):
        raise TypeError(f"kwargs must be a dict, got {type(kwargs).__name__}.")
    robust = make_loss(loss, f_scale)
    # Sparse and large problems (jac_sparsity, tr_solver, tr_options; trustfit.solve.large).
    large = iterative_setup(tr_solver, tr_options, jac_sparsity, jac, x_scale)
    workers = scipy_args.workers_map(workers)
    callback = scipy_args.scipy_callback(callback, x0)

    if max_nfev is None:
        max_nfev = 100 * n * (n + 1)
    options = LoopOptions(ftol=ftol, xtol=xtol, gtol=gtol, max_nfev=max_nfev, max_iter=max_iter,
                          x_scale=scale, verbose=verbose, callback=callback,
                          rounding=ROUNDING_LEVEL if rounding_stop else 0.0,
                          polish=bool(polish))

    run_once = make_run_once(fun, x0, jac, lb, ub, args, kwargs, step, method, options,
                             tau=tau, damping=damping, xtol=xtol, accel=accel,
                             default_scale=x_scale is None, loss=robust, workers=workers,
                             large=large)
    try:
        if starts is not None:
            return multistart_runs(run_once, x0, lb, ub, starts, design, seed=seed,
                                   rescue=rescue, max_nfev=max_nfev, max_iter=max_iter)
        result = scipy_args.first_run(run_once, x0)
        if rescue:
            result = rescue_layer(run_once, result, seed=seed, max_nfev=max_nfev,
                                  max_iter=max_iter)
        return result
    finally:
        if hasattr(workers, "close"):  # a pool trustfit made for workers=N
            workers.close()


_SIGNATURE = inspect.signature(least_squares)
#: The keyword arguments of least_squares after ``fun, x0``, with their defaults.
_DEFAULTS = {name: p.default for name, p in _SIGNATURE.parameters.items()
             if name not in ("fun", "x0")}


def solve_with_design(design: StartDesign, fun: Callable[..., Any], x0: Any,
                      **kwargs: Any) -> FitResult:
    """``least_squares(fun, x0, **kwargs)`` with the multi-start design ``design``: an unknown
    keyword is a TypeError, as in a call of :func:`least_squares` itself."""
    if not kwargs.keys() <= _DEFAULTS.keys():  # Signature.bind's message names the keyword
        try:
            _SIGNATURE.bind(fun, x0, **kwargs)
        except TypeError as exc:
            raise TypeError(f"least_squares() {exc}") from None
    return _solve(design, fun=fun, x0=x0, **{**_DEFAULTS, **kwargs})


def multistart(fun: Callable[..., Any], x0: Any, starts: int = 8, *, design: str = "sobol",
               seed: int = 0, workers: int | None = 2,
               progress: Callable[[int, int], None] | None = None,
               param_names: tuple[str, ...] | None = None, **kwargs: Any) -> FitResult:
    """``least_squares`` from ``starts`` deterministic starting points (see
    :mod:`trustfit.strategies.multistart`); keyword arguments go to
    :func:`trustfit.least_squares`. Returns the best :class:`FitResult` with ``minima``, the
    distinct minima with how often each was found. ``progress(done, total)`` is called after
    each run (the command line draws its progress bar with it); ``param_names`` name the
    parameters in the events."""
    plan = StartDesign(design, workers, progress,
                       None if param_names is None else tuple(param_names))
    return solve_with_design(plan, fun, x0, starts=starts, seed=seed, **kwargs)
