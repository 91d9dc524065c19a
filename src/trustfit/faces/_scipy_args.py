"""SciPy's conventions for the arguments of ``least_squares`` that are not about the solver:
its error wording, ``args``, ``callback`` and ``workers`` (``scipy.optimize.least_squares``,
SciPy 1.16+). Read from SciPy's documentation and ``_lsq/least_squares.py``; trustfit's own
code."""
from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # scipy.optimize is imported by the loop when a callback asks for it
    from scipy.optimize import OptimizeResult

from ..core.problem import NonFiniteStart


def scipy_wording(scipy_message: str, check: Callable[..., Any], *args: Any) -> Any:
    """``check(*args)``, whose ValueError is re-raised with SciPy's message first and
    trustfit's fuller explanation after it (code that matches SciPy's text keeps working)."""
    try:
        return check(*args)
    except ValueError as exc:
        raise ValueError(f"{scipy_message} {exc}") from None


def extra_arguments(args: Any) -> tuple:
    """``args``: any sequence (SciPy unpacks it with ``*args``), as a tuple."""
    if isinstance(args, tuple):
        return args
    if isinstance(args, (str, bytes, dict)) or not hasattr(args, "__iter__"):
        raise TypeError(f"args must be a tuple (or another sequence) of extra arguments for "
                        f"fun(x, *args), got {type(args).__name__}.")
    return tuple(args)


def scipy_callback(callback: Callable | None, x0: np.ndarray) -> Callable | None:
    """The user's callback called as SciPy 1.16+ calls it: once per accepted step, with
    ``intermediate_result`` (an ``OptimizeResult`` with ``x, fun, nit, nfev, cost`` and
    trustfit's ``grad, optimality, step_kind``) passed by keyword when that is the callback's
    only parameter, otherwise with a copy of ``x`` (SciPy's ``_wrap_callback``). Raising
    ``StopIteration`` (or returning True) stops the fit with status -2.

    The returned adapter has the one parameter ``intermediate_result``, so the driver loop
    (:mod:`trustfit.core.loop`) gives it the OptimizeResult of every iteration; a rejected
    step (``x`` unchanged from the previous call, or from ``x0`` before the first) is not
    passed on."""
    if callback is None:
        return None
    try:
        names = set(inspect.signature(callback).parameters)
    except (TypeError, ValueError):
        names = set()
    by_result = names == {"intermediate_result"}
    last = [np.array(x0, dtype=float, copy=True)]

    def adapter(intermediate_result: OptimizeResult) -> Any:
        x = np.asarray(intermediate_result.x)
        if np.array_equal(last[0], x):
            return None  # a rejected step: SciPy calls after accepted steps only
        last[:] = [x.copy()]
        if by_result:
            return callback(intermediate_result=intermediate_result)
        return callback(np.copy(x))

    return adapter


class _Pool:
    """``workers=N``: a process pool's ``map`` (SciPy's ``MapWrapper``), closed by
    :meth:`close`. The user's ``fun`` must then be picklable, as in SciPy."""

    def __init__(self, processes: int):
        import multiprocessing  # here: only a pool needs it

        # forkserver, as SciPy on POSIX: forking a threaded process can deadlock
        method = multiprocessing.get_start_method(allow_none=True)
        if method is None and os.name == "posix":
            method = "forkserver"
        self._pool = multiprocessing.get_context(method).Pool(processes)

    def __call__(self, func: Callable, iterable: Any) -> Any:
        return self._pool.map(func, iterable)

    def close(self) -> None:
        self._pool.terminate()
        self._pool.join()


def workers_map(workers: Any) -> Callable | None:
    """``workers`` (SciPy's meaning): ``None`` or 1 evaluates finite differences here; an int
    ``N > 1`` (``-1``: every CPU) in a pool of N processes; a map-like callable is called as
    ``workers(fun, iterable)`` (e.g. ``multiprocessing.Pool.map``). Returns the map to use
    (``None``: this process)."""
    if workers is None:
        return None
    if callable(workers):
        return workers
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)):
        raise TypeError(f"workers must be None, an int or a map-like callable "
                        f"(workers(fun, iterable)), got {workers!r}.")
    count = int(workers)
    if count == -1:
        count = os.cpu_count() or 1
    if count < 1:
        raise RuntimeError(f"Number of workers specified must be -1, an int >= 1, or an object "
                           f"with a 'map' method. Got workers={workers}: -1 uses every CPU.")
    return None if count == 1 else _Pool(count)


def first_run(run_once: Callable[[np.ndarray], Any], x0: np.ndarray) -> Any:
    """``run_once(x0)``; non-finite residuals at the caller's ``x0`` raise SciPy's ValueError
    wording first ("Residuals are not finite in the initial point.")."""
    try:
        return run_once(x0)
    except NonFiniteStart as exc:
        if np.all(np.isfinite(exc.f0)):
            raise
        raise NonFiniteStart(f"Residuals are not finite in the initial point. {exc}", exc.f0,
                             exc.nfev_fd) from None
