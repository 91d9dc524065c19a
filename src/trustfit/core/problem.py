"""The problem as the solver sees it: residuals, Jacobian, bounds, all validated once.

Every evaluation of the user's function goes through :class:`Problem`, which

* passes ``args``/``kwargs`` and never lets the user's code change the solver's ``x``
  (each call gets a copy),
* is called inside the driver's one ``np.errstate`` per fit (overflow in ``exp`` at a wild
  trial point is a rejected step, reported as such, not a ``RuntimeWarning``),
* checks the output shape against the first evaluation,
* counts residual evaluations (``nfev``), Jacobian evaluations (``njev``) and the residual
  evaluations spent on finite differences (``nfev_fd``) separately,
* enforces ``max_nfev`` as a hard cap on ``nfev``: an evaluation past the budget is refused
  (the user's function is not called, nothing is counted, and the trial gets ``nan``
  residuals, so it is rejected like any non-finite trial); ``refused`` counts them and the
  caller reports the stop as ``MAX_NFEV``. As in SciPy (1.16 and later, every method),
  evaluations for finite-difference Jacobians are not counted in ``nfev`` nor limited by
  ``max_nfev``: they are ``nfev_fd``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from .validate import returned_numbers
from .differentiation import finite_difference_jacobian
from .sparse_linalg import all_finite, nonfinite_columns


class NonFiniteStart(ValueError):
    """The residuals, their cost or the Jacobian are not finite at a starting point. At the
    caller's ``x0`` this is the caller's error and is raised; at a point trustfit chose
    itself (a rescue or multi-start start) the start is rejected instead
    (:func:`trustfit.faces.least_squares.least_squares`). ``f0``: the residuals there;
    ``nfev_fd``: the evaluations spent on the Jacobian."""

    def __init__(self, message: str, f0: np.ndarray, nfev_fd: int = 0):
        super().__init__(message)
        self.f0, self.nfev_fd = f0, nfev_fd


def real_jacobian(J: Any, m: int, n: int) -> np.ndarray:
    """A user's Jacobian as a float (m, n) array, or a ``ValueError`` naming ``jac``: complex
    values are refused (casting would drop the imaginary part), and so is any other shape,
    the transposed ``(n, m)`` one included (reshaping it would scramble the entries). A 1-D
    array is accepted where it is unambiguous: length m for one parameter, length n for one
    residual."""
    if type(J) is np.ndarray and J.dtype == np.float64 and J.shape == (m, n):
        return J  # what every check below would pass unchanged
    J = np.asarray(J)
    if np.iscomplexobj(J):
        raise ValueError("jac returned complex values; the Jacobian must be real (for a "
                         "complex-step derivative pass jac='cs').")
    if J.ndim <= 1 and (m == 1 or n == 1) and J.size == m * n:
        J = J.reshape(m, n)
    if J.shape != (m, n):
        hint = (" (the transpose: rows must be residuals, columns parameters)"
                if J.shape == (n, m) and m != n else "")
        raise ValueError(f"jac must return an array of shape (m, n) = ({m}, {n}), but it "
                         f"returned shape {J.shape}{hint}.")
    try:
        with np.errstate(all="ignore"):
            return J.astype(float, copy=False)
    except (TypeError, ValueError):
        raise ValueError(f"jac must return numbers, got an array of {J.dtype}.") from None


def _few(indices: np.ndarray, limit: int = 10) -> str:
    """``[i, j, ...]``: at most ``limit`` indices, then how many more."""
    shown = str(indices[:limit].tolist())
    return shown if indices.size <= limit else f"{shown[:-1]}, ... ({indices.size} in all)]"


def _where_not_finite(J: np.ndarray, cols: np.ndarray, problem: "Problem") -> str:
    """Each non-finite column's parameter name (when ``jac`` or ``fun`` carries
    ``param_names``, as expression models' do) and its first non-finite residual index."""
    names = (getattr(problem._jac, "param_names", None)
             or getattr(problem._fun, "param_names", None))
    if names is not None and len(names) != J.shape[1]:
        names = None
    parts = []
    for c in cols[:10]:
        label = f"d/d {names[c]}" if names is not None else f"column {c}"
        if not isinstance(J, np.ndarray):  # sparse or an operator: the column is named
            parts.append(label)
            continue
        row = int(np.argmax(~np.isfinite(J[:, c])))
        parts.append(f"{label} first at residual index {row}")
    return "; ".join(parts)


class ProblemLike(Protocol):
    """What the loop, the steps and the polish use of a problem: a :class:`Problem` or a
    wrapper that passes the rest through to one (:class:`~trustfit.core.scaling.ScaledProblem`,
    :class:`~trustfit.core.loss.RobustProblem`)."""

    @property
    def lb(self) -> np.ndarray: ...
    @property
    def ub(self) -> np.ndarray: ...
    @property
    def nfev(self) -> int: ...
    @property
    def njev(self) -> int: ...
    @property
    def nfev_fd(self) -> int: ...
    @property
    def refused(self) -> int: ...
    @property
    def max_nfev(self) -> int | None: ...
    @property
    def budget_left(self) -> int | None: ...
    @property
    def refinable(self) -> bool: ...

    def residuals(self, x: np.ndarray, /) -> np.ndarray: ...

    def jacobian(self, x: np.ndarray, f: np.ndarray, /, refined: bool = False,
                 out: np.ndarray | None = None) -> np.ndarray: ...

    def start(self, x0: np.ndarray, /) -> tuple[np.ndarray, np.ndarray]: ...


class Problem:
    def __init__(
        self,
        fun: Callable[..., Any],
        n: int,
        jac: Callable[..., Any] | str,
        lb: np.ndarray,
        ub: np.ndarray,
        args: tuple = (),
        kwargs: dict | None = None,
        diff_step: np.ndarray | None = None,
        max_nfev: int | None = None,
    ):
        self._fun = fun
        self._jac = jac
        self.n = n
        self.lb, self.ub = lb, ub
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})
        self.diff_step = diff_step
        self.m: int | None = None
        self.nfev = 0
        self.njev = 0
        self.nfev_fd = 0
        self.max_nfev = max_nfev
        self.refused = 0

    @property
    def bounded(self) -> bool:
        return bool(np.any(np.isfinite(self.lb)) or np.any(np.isfinite(self.ub)))

    def project(self, x: np.ndarray) -> np.ndarray:
        return np.clip(x, self.lb, self.ub) if self.bounded else x

    # --- residuals ---------------------------------------------------------------------------
    @property
    def budget_left(self) -> int | None:
        """Residual evaluations left under ``max_nfev`` (``None``: no budget)."""
        return None if self.max_nfev is None else max(0, self.max_nfev - self.nfev)

    def residuals(self, x: np.ndarray) -> np.ndarray:
        """Residual vector at ``x`` as float64; may contain inf/nan (the caller decides).
        Past ``max_nfev`` the evaluation is refused: all ``nan``, not counted."""
        if self.m is not None and self.max_nfev is not None and self.nfev >= self.max_nfev:
            self.refused += 1
            return np.full(self.m, np.nan)
        self.nfev += 1
        return self._checked_call(x)

    def _checked_call(self, x: np.ndarray, allow_complex: bool = False) -> np.ndarray:
        """The user's function (given a copy of ``x``: the user's code never changes the
        solver's) with its output shape checked against the first call. No np.errstate here:
        the driver enters it once per fit (trustfit.core.loop.run), not once per call."""
        out = self._fun(np.array(x, copy=True), *self.args, **self.kwargs)
        # What nearly every call returns after the first: a float64 vector of the first
        # call's length, which every check below would pass unchanged (a tiny fit makes ~60
        # calls; the checks cost more than a 20-point model).
        if type(out) is np.ndarray and out.dtype == np.float64 and out.shape == (self.m,):
            return out
        out = np.atleast_1d(returned_numbers("fun", out))
        if out.ndim != 1:
            raise ValueError(
                f"fun must return a 1-D array of residuals, but it returned shape {out.shape}.")
        if self.m is None:
            if out.size == 0:
                raise ValueError("fun returned an empty array: there is nothing to fit.")
            self.m = out.size
        elif out.size != self.m:
            raise ValueError(
                f"fun returned {out.size} residuals at one point and {self.m} at another; "
                "the number of residuals must not change.")
        if allow_complex or out.dtype == np.float64:
            return out
        if np.iscomplexobj(out):
            raise ValueError("fun returned complex residuals; residuals must be real numbers.")
        return out.astype(float)

    def start(self, x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Residuals and Jacobian at a starting point, or :class:`NonFiniteStart` naming what
        is not finite: residuals (their indices), the cost ``1/2 ||r||^2`` (each residual
        finite but the sum of squares overflows; the residuals above ``sqrt(max / m)``, the
        size at which m of them overflow, are named), or Jacobian columns."""
        f0 = self.residuals(x0)
        if not np.all(np.isfinite(f0)):
            bad = np.flatnonzero(~np.isfinite(f0))
            raise NonFiniteStart(
                f"fun returned non-finite residuals at x0 (at indices {_few(bad)}); "
                "the starting point must give finite residuals.", f0)
        with np.errstate(over="ignore"):
            cost = 0.5 * float(f0 @ f0)
        if not np.isfinite(cost):
            big = np.flatnonzero(np.abs(f0) > np.sqrt(np.finfo(float).max / f0.size))
            raise NonFiniteStart(
                f"the cost 1/2 ||fun(x0)||^2 overflows at x0: the residuals at indices "
                f"{_few(big)} reach {float(np.max(np.abs(f0))):.3g}; rescale the residuals "
                "(e.g. with sigma) so that their sum of squares is finite.", f0)
        fd_before = self.nfev_fd
        J0 = self.jacobian(x0, f0)
        if not all_finite(J0):
            cols = nonfinite_columns(J0)
            raise NonFiniteStart(
                f"the Jacobian at x0 has non-finite entries in columns {_few(cols)} "
                f"({_where_not_finite(J0, cols, self)}); "
                "the starting point must give a finite Jacobian.", f0,
                self.nfev_fd - fd_before)
        return f0, J0

    # --- Jacobian ----------------------------------------------------------------------------
    @property
    def refinable(self) -> bool:
        """True when the Jacobian comes from forward differences, whose O(sqrt(eps)) error
        limits the final digits; the polish then switches to fourth-order central ones."""
        return isinstance(self._jac, str) and self._jac == "2-point"

    def jacobian(self, x: np.ndarray, f: np.ndarray, refined: bool = False,
                 out: np.ndarray | None = None) -> np.ndarray:
        """Jacobian (m, n) at ``x`` where ``f`` are the residuals at ``x``; ``refined`` asks
        for fourth-order central instead of forward differences (see :attr:`refinable`);
        ``out``: finite differences may be written into this earlier Jacobian of theirs
        (:func:`~trustfit.core.differentiation.finite_difference_jacobian`)."""
        self.njev += 1
        if callable(self._jac):
            J = self._jac(np.array(x, copy=True), *self.args, **self.kwargs)
            if hasattr(J, "toarray"):  # scipy.sparse
                J = J.toarray()
            # f came from residuals(), whose first call sets m
            assert self.m is not None
            return real_jacobian(J, self.m, self.n)
        def fun(point: np.ndarray) -> np.ndarray:
            return self._checked_call(point, allow_complex=self._jac == "cs")

        scheme = "5-point" if refined and self.refinable else self._jac
        step = None if scheme != self._jac else self.diff_step
        J, evaluations = finite_difference_jacobian(fun, x, f, scheme, self.lb, self.ub, step,
                                                    out)
        self.nfev_fd += evaluations
        return J
