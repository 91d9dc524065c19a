"""The problem as the solver sees it: residuals, Jacobian, bounds, all validated once.

Every evaluation of the user's function goes through :class:`Problem`, which

* passes ``args``/``kwargs`` and never lets the user's code change the solver's ``x``
  (each call gets a copy),
* silences floating-point warnings (overflow in ``exp`` at a wild trial point is a rejected
  step, reported as such, not a ``RuntimeWarning``),
* checks the output shape against the first evaluation,
* counts residual evaluations (``nfev``), Jacobian evaluations (``njev``) and the residual
  evaluations spent on finite differences (``nfev_fd``) separately.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._validate import returned_numbers
from .differentiation import finite_difference_jacobian


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

    @property
    def bounded(self) -> bool:
        return bool(np.any(np.isfinite(self.lb)) or np.any(np.isfinite(self.ub)))

    def project(self, x: np.ndarray) -> np.ndarray:
        return np.clip(x, self.lb, self.ub) if self.bounded else x

    # --- residuals ---------------------------------------------------------------------------
    def _call(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            out = self._fun(np.array(x, copy=True), *self.args, **self.kwargs)
        return np.atleast_1d(returned_numbers("fun", out))

    def residuals(self, x: np.ndarray) -> np.ndarray:
        """Residual vector at ``x`` as float64; may contain inf/nan (the caller decides)."""
        self.nfev += 1
        return self._checked_call(x)

    def _checked_call(self, x: np.ndarray, allow_complex: bool = False) -> np.ndarray:
        """The user's function with its output shape checked against the first call."""
        out = self._call(x)
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
        if allow_complex:
            return out
        if np.iscomplexobj(out):
            raise ValueError("fun returned complex residuals; residuals must be real numbers.")
        with np.errstate(all="ignore"):
            return out.astype(float, copy=False)

    # --- Jacobian ----------------------------------------------------------------------------
    @property
    def refinable(self) -> bool:
        """True when the Jacobian comes from forward differences, whose O(sqrt(eps)) error
        limits the final digits; the polish then switches to fourth-order central ones."""
        return isinstance(self._jac, str) and self._jac == "2-point"

    def jacobian(self, x: np.ndarray, f: np.ndarray, refined: bool = False) -> np.ndarray:
        """Jacobian (m, n) at ``x`` where ``f`` are the residuals at ``x``; ``refined`` asks
        for fourth-order central instead of forward differences (see :attr:`refinable`)."""
        self.njev += 1
        if callable(self._jac):
            with np.errstate(all="ignore"):
                J = self._jac(np.array(x, copy=True), *self.args, **self.kwargs)
            if hasattr(J, "toarray"):  # scipy.sparse
                J = J.toarray()
            J = np.atleast_2d(np.asarray(J, dtype=float))
            if J.shape != (self.m, self.n):
                raise ValueError(
                    f"jac must return an array of shape (m, n) = ({self.m}, {self.n}), "
                    f"but it returned shape {J.shape}.")
            return J
        def fun(point: np.ndarray) -> np.ndarray:
            return self._checked_call(point, allow_complex=self._jac == "cs")

        scheme = "5-point" if refined and self.refinable else self._jac
        step = None if scheme != self._jac else self.diff_step
        with np.errstate(all="ignore"):
            J, evaluations = finite_difference_jacobian(
                fun, x, f, scheme, self.lb, self.ub, step)
        self.nfev_fd += evaluations
        return J
