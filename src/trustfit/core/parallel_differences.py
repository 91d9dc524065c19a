"""Finite-difference Jacobians whose residual evaluations run through a map (SciPy's
``workers``: ``workers(fun, points)``, e.g. a process pool's ``map``).

:func:`finite_difference_jacobian` asks for its points one at a time and decides some of them
from earlier values (a column whose forward difference is not finite is retried backwards).
So the Jacobian is formed in two passes: the first records the points the formula asks for
when every value is finite (that is, all of them but the rare retries), the map evaluates
them together, and the second pass forms the Jacobian from the values, evaluating any point
it asks for beyond them (a retry) here. The Jacobian is the one the sequential code forms,
to the last bit; the evaluations are counted in ``nfev_fd`` as there.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .differentiation import finite_difference_jacobian
from .validate import returned_numbers


class _Evaluate:
    """``fun(x, *args, **kwargs)`` as one picklable callable (a process pool sends it)."""

    def __init__(self, fun: Callable, args: tuple, kwargs: dict):
        self.fun, self.args, self.kwargs = fun, args, kwargs

    def __call__(self, x: np.ndarray) -> Any:
        with np.errstate(all="ignore"):
            return self.fun(x, *self.args, **self.kwargs)


def use_workers(problem, workers: Callable[[Callable, Any], Any]) -> None:
    """Make ``problem``'s finite-difference Jacobians evaluate their points with
    ``workers(fun, points)``; an analytic ``jac`` is unchanged."""
    sequential = type(problem).jacobian

    def jacobian(x: np.ndarray, f: np.ndarray, refined: bool = False,
                 out: np.ndarray | None = None) -> np.ndarray:  # out: not used
        if callable(problem._jac):
            return sequential(problem, x, f, refined)
        complex_step = problem._jac == "cs"
        scheme = "5-point" if refined and problem.refinable else problem._jac
        step = None if scheme != problem._jac else problem.diff_step
        points: list[np.ndarray] = []
        probe = f.astype(complex) if complex_step else f

        def record(point: np.ndarray) -> np.ndarray:
            points.append(np.array(point, copy=True))
            return probe

        with np.errstate(all="ignore"):
            finite_difference_jacobian(record, x, f, scheme, problem.lb, problem.ub, step)
        values = list(workers(_Evaluate(problem._fun, problem.args, problem.kwargs), points))
        known = {p.tobytes(): v for p, v in zip(points, values)}

        def serve(point: np.ndarray) -> np.ndarray:
            key = np.asarray(point).tobytes()
            if key not in known:
                return problem._checked_call(point, allow_complex=complex_step)
            out = np.atleast_1d(returned_numbers("fun", known[key]))
            if out.ndim != 1 or out.size != problem.m:
                raise ValueError(f"fun returned shape {out.shape} at a finite-difference "
                                 f"point and {problem.m} residuals at x; the number of "
                                 "residuals must not change.")
            if not complex_step and np.iscomplexobj(out):
                raise ValueError("fun returned complex residuals; residuals must be real.")
            return out if complex_step else out.astype(float, copy=False)

        problem.njev += 1
        with np.errstate(all="ignore"):
            J, evaluations = finite_difference_jacobian(serve, x, f, scheme, problem.lb,
                                                        problem.ub, step)
        problem.nfev_fd += evaluations
        return J

    problem.jacobian = jacobian
